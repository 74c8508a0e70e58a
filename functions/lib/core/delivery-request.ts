/** What Sluice sends for an attempt (contract §5), and how it reads the answer. */
import { epochSeconds } from './clock.ts';
import type { AttemptOutcome, Endpoint, Message, SigningSecret } from './model.ts';
import type { HttpRequest, HttpResult } from './ports.ts';
import { signatureHeader } from './signing.ts';

export const USER_AGENT = 'Sluice/1.0';

/** What one attempt is about: enough to build its request without the message item. */
export interface AttemptSubject {
  readonly messageId: string;
  readonly type: string;
  readonly createdAt: string;
  readonly deliveryId: string;
  /** The payload exactly as posted; absent for thin endpoints, which are sent no body. */
  readonly payloadJson?: string;
}

/** The subject of an attempt at a delivery of a stored message. */
export function subjectOf(message: Message, deliveryId: string): AttemptSubject {
  return { messageId: message.id, type: message.type, createdAt: message.createdAt, deliveryId, payloadJson: message.payloadJson };
}

export function classify(result: HttpResult): AttemptOutcome {
  if (result.statusCode === undefined) return 'failed';
  if (result.statusCode >= 200 && result.statusCode < 300) return 'succeeded';
  if (result.statusCode === 410) return 'gone';
  return 'failed';
}

/** The full-mode body: the envelope around the payload exactly as it was posted. */
export function deliveryBody(subject: { messageId: string; type: string; createdAt: string; payloadJson: string }): string {
  return `{"id":${JSON.stringify(subject.messageId)},"type":${JSON.stringify(subject.type)},"createdAt":${JSON.stringify(subject.createdAt)},"data":${subject.payloadJson}}`;
}

/** The secrets that sign right now: the current one, and a rotated-out one until it expires. */
export function activeSecrets(secrets: readonly SigningSecret[], now: Date): readonly SigningSecret[] {
  return secrets.filter((secret) => !secret.expiresAt || Date.parse(secret.expiresAt) > now.getTime());
}

/** An attempt's signed body and headers, wherever they go: POSTed, or handed to a poll endpoint's receiver. */
export function signedRequest(
  endpoint: Endpoint,
  subject: AttemptSubject,
  attempt: number,
  now: Date,
): { headers: Record<string, string>; body: string } {
  const thin = endpoint.mode === 'thin';
  if (!thin && subject.payloadJson === undefined) throw new Error(`no payload for delivery ${subject.deliveryId}`);
  const body = thin ? '' : deliveryBody({ ...subject, payloadJson: subject.payloadJson ?? '' });
  const headers: Record<string, string> = {
    ...endpoint.headers,
    'user-agent': endpoint.userAgent ?? USER_AGENT,
    'webhook-id': subject.messageId,
    'webhook-timestamp': String(epochSeconds(now)),
    'webhook-signature': signatureHeader(activeSecrets(endpoint.secrets, now), subject.messageId, now, body),
    'x-sluice-event-type': subject.type,
    'x-sluice-delivery-id': subject.deliveryId,
    'x-sluice-attempt': String(attempt),
  };
  if (thin) headers['x-message-id'] = subject.deliveryId;
  else headers['content-type'] = 'application/json';
  if (endpoint.auth) {
    const credentials = Buffer.from(`${endpoint.auth.username}:${endpoint.auth.password}`).toString('base64');
    headers.authorization = `Basic ${credentials}`;
  }
  return { headers, body };
}

export function buildRequest(endpoint: Endpoint, subject: AttemptSubject, attempt: number, now: Date): HttpRequest {
  if (endpoint.url === undefined) throw new Error(`endpoint ${endpoint.id} is a poll endpoint: nothing is sent to it`);
  return { url: endpoint.url, ...signedRequest(endpoint, subject, attempt, now), timeoutMs: endpoint.timeoutMs };
}
