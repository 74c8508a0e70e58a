/**
 * The bench's other machine: the clients that post messages and the receivers that take the
 * webhooks, on a worker thread of their own, so the platform's event loop carries only the
 * platform (as it would in AWS, where neither runs in a Lambda of yours). The main thread talks
 * to it through `LoadClient`, a request/answer protocol over the worker's message port.
 */
import { parentPort, Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { Receiver, type Responder, respondWith } from '../support/receiver.ts';
import { realisticPayload } from './payload.ts';

export interface Received {
  readonly deliveryId: string;
  readonly webhookId: string;
  readonly attempt: string;
  readonly receivedAt: number;
}

export interface PostResult {
  /** [message id, when its POST was sent] */
  readonly postedAt: [string, number][];
  readonly acceptedAt: number[];
  readonly acceptMs: number[];
  seconds: number;
  refused: number;
}

type Command =
  | { op: 'receivers'; count: number; hang: boolean }
  | { op: 'received'; ids: number[] }
  | { op: 'forget' }
  | {
      op: 'post';
      apiUrl: string;
      key: string;
      type: string;
      count: number;
      concurrency: number;
      label: string;
      payloadBytes: number;
      idempotent: boolean;
    }
  | { op: 'paced'; apiUrl: string; key: string; type: string; count: number; perSecond: number; payloadBytes: number }
  | { op: 'flood'; apiUrl: string; key: string; type: string; seconds: number; clients: number; payloadBytes: number }
  | { op: 'progress' }
  | { op: 'close' };

// ---------------------------------------------------------------------------------------------
// The worker side

const receivers: Receiver[] = [];
const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000 });
let done = 0;

async function post(apiUrl: string, key: string, type: string, payloadBytes: number, sequence: number, idempotencyKey?: string) {
  const started = performance.now();
  const response = await request(`${apiUrl}/v1/messages`, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
    },
    body: JSON.stringify({ type, payload: realisticPayload(payloadBytes, sequence) }),
  });
  const text = await response.body.text();
  const retryAfter = Number(response.headers['retry-after'] ?? 1);
  return {
    status: response.statusCode,
    body: JSON.parse(text) as { id?: string; error?: unknown },
    ms: performance.now() - started,
    retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : 1,
  };
}

/** Holds every request open: an endpoint that hangs until Sluice's timeout. */
const hang: Responder = () => new Promise(() => undefined);

async function handle(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'receivers': {
      const started = await Promise.all(
        Array.from({ length: command.count }, () => Receiver.start(command.hang ? hang : respondWith(200, 'ok'))),
      );
      const first = receivers.push(...started) - started.length;
      return started.map((r, i) => ({ id: first + i, url: r.url }));
    }
    case 'received':
      return command.ids.map((id) =>
        (receivers[id]?.requests ?? []).map((q) => ({
          deliveryId: q.headers['x-sluice-delivery-id'] ?? '',
          webhookId: q.headers['webhook-id'] ?? '',
          attempt: q.headers['x-sluice-attempt'] ?? '',
          receivedAt: q.receivedAt,
        })),
      );
    case 'forget':
      for (const receiver of receivers) receiver.requests.length = 0;
      return null;
    case 'progress':
      return done;
    case 'post': {
      const result: PostResult = { postedAt: [], acceptedAt: [], acceptMs: [], seconds: 0, refused: 0 };
      done = 0;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: command.concurrency }, async () => {
          while (next < command.count) {
            const i = next++;
            for (;;) {
              const sentAt = Date.now();
              const answer = await post(
                command.apiUrl,
                command.key,
                command.type,
                command.payloadBytes,
                i,
                command.idempotent ? `${command.label}-${i}` : undefined,
              );
              if (answer.status === 202) {
                result.postedAt.push([String(answer.body.id), sentAt]);
                result.acceptedAt.push(Date.now());
                result.acceptMs.push(answer.ms);
                break;
              }
              if (answer.status !== 429) throw new Error(`POST /v1/messages → ${answer.status} ${JSON.stringify(answer.body)}`);
              result.refused++;
              await new Promise((resolve) => setTimeout(resolve, answer.retryAfterSeconds * 1000));
            }
            done++;
          }
        }),
      );
      result.seconds = (performance.now() - started) / 1000;
      return result;
    }
    case 'paced': {
      const result: PostResult = { postedAt: [], acceptedAt: [], acceptMs: [], seconds: 0, refused: 0 };
      done = 0;
      const start = Date.now();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < command.count; i++) {
        const due = start + (i * 1000) / command.perSecond;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        const sentAt = Date.now();
        pending.push(
          post(command.apiUrl, command.key, command.type, command.payloadBytes, i).then((answer) => {
            if (answer.status !== 202) throw new Error(`POST /v1/messages → ${answer.status} ${JSON.stringify(answer.body)}`);
            result.postedAt.push([String(answer.body.id), sentAt]);
            result.acceptedAt.push(Date.now());
            result.acceptMs.push(answer.ms);
            done++;
          }),
        );
      }
      await Promise.all(pending);
      result.seconds = (Date.now() - start) / 1000;
      return result;
    }
    case 'flood': {
      const stopAt = Date.now() + command.seconds * 1000;
      let accepted = 0;
      let throttled = 0;
      await Promise.all(
        Array.from({ length: command.clients }, async () => {
          while (Date.now() < stopAt) {
            const answer = await post(command.apiUrl, command.key, command.type, command.payloadBytes, accepted);
            if (answer.status === 202) accepted++;
            else if (answer.status === 429) {
              // A well-behaved client waits as long as Retry-After says.
              throttled++;
              await new Promise((resolve) => setTimeout(resolve, answer.retryAfterSeconds * 1000));
            } else throw new Error(`flood POST → ${answer.status} ${JSON.stringify(answer.body)}`);
          }
        }),
      );
      return { accepted, throttled };
    }
    case 'close':
      await Promise.all(receivers.map((r) => r.close()));
      await agent.close();
      return null;
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', ({ id, command }: { id: number; command: Command }) => {
    handle(command).then(
      (result) => port.postMessage({ id, result }),
      (error: unknown) => port.postMessage({ id, error: String((error as Error).stack ?? error) }),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// The main side

type Answer<C extends Command['op']> = C extends 'receivers'
  ? { id: number; url: string }[]
  : C extends 'received'
    ? Received[][]
    : C extends 'post' | 'paced'
      ? PostResult
      : C extends 'flood'
        ? { accepted: number; throttled: number }
        : C extends 'progress'
          ? number
          : null;

export class LoadClient {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  constructor() {
    this.worker = new Worker(new URL(import.meta.url), { execArgv: ['--import', 'tsx'] });
    this.worker.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: string }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (error) waiting?.reject(new Error(error));
      else waiting?.resolve(result);
    });
    this.worker.on('error', (error) => {
      for (const waiting of this.pending.values()) waiting.reject(error);
    });
  }

  send<C extends Command>(command: C): Promise<Answer<C['op']>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, command });
    });
  }

  async close(): Promise<void> {
    await this.send({ op: 'close' });
    await this.worker.terminate();
  }
}
