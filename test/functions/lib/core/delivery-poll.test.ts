/**
 * Poll endpoints (README "Poll endpoints"): nothing is sent. A delivery waits in the endpoint's
 * inbox; each time its schedule comes round unacknowledged it uses up a retry, until it expires
 * (`dead`). The receiver fetches it, with the signed request Sluice would have POSTed, and acks.
 */
import { Webhook } from 'standardwebhooks';
import { deliveryIdFor, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { InboxService } from '../../../../functions/lib/core/inbox.ts';
import type { TenantPrincipal } from '../../../../functions/lib/core/model.ts';
import { aDelivery, aMessage, anEndpoint, deliveryHarness, firstJobFor, jobFor, SECRET, T0, TENANT } from './fakes.ts';

const POLL = anEndpoint({ mode: 'poll', url: undefined, retryPolicy: { delaysSeconds: [60, 600] } });
const RECEIVER: TenantPrincipal = { kind: 'tenant', tenantId: TENANT, keyId: 'key_01JN000000000000000RECEIVER', scopes: ['receiver'] };
const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs).toISOString();

function setup() {
  const message = aMessage();
  const open = aDelivery({ id: deliveryIdFor(message.id, POLL.id), messageId: message.id, endpointId: POLL.id });
  const harness = deliveryHarness({ endpoint: { ...POLL }, message, delivery: open });
  // The harness stores a delivery to run later attempts on; a first attempt must find none.
  harness.deliveries.deliveries.clear();
  const { deliveries, messages, endpoints, clock } = harness;
  const inbox = new InboxService({ deliveries, messages, endpoints, clock, ids: ulidIdGenerator(() => clock.now().getTime()) });
  return { ...harness, message, inbox, deliveryId: open.id };
}

describe('DeliveryService: poll endpoints', () => {
  test('a first attempt sends nothing: the delivery waits in the inbox, looked at again on the schedule', async () => {
    const s = setup();
    const [report] = await s.runFirst(firstJobFor(s.message, [POLL.id]));
    expect(report).toMatchObject({ kind: 'awaiting-pull', checkInSeconds: 60 });
    expect(s.sender.requests).toEqual([]);
    expect(s.deliveries.deliveries.get(s.deliveryId)).toMatchObject({
      status: 'pending',
      attemptCount: 0,
      scheduledAttempts: 1,
      nextAttemptAt: at(60_000),
    });
    expect(s.queue.calls).toEqual([{ tasks: [expect.objectContaining({ deliveryId: s.deliveryId })], delaySeconds: 60, lane: 'retry' }]);
    // A second copy of the job finds it in the ledger.
    const [again] = await s.runFirst(firstJobFor(s.message, [POLL.id]), 'primary', 2);
    expect(again?.kind).toBe('skipped');
  });

  test('unacknowledged, it uses up its schedule and expires (dead), announced like any dead delivery', async () => {
    const s = setup();
    await s.runFirst(firstJobFor(s.message, [POLL.id]));
    const waiting = () => s.deliveries.deliveries.get(s.deliveryId) ?? aDelivery();
    s.clock.advance(60_000);
    expect(await s.run(jobFor(waiting()), 'retry')).toMatchObject({ kind: 'awaiting-pull', checkInSeconds: 600 });
    expect(waiting()).toMatchObject({ status: 'pending', scheduledAttempts: 2, nextAttemptAt: at(660_000) });
    s.clock.advance(600_000);
    expect(await s.run(jobFor(waiting()), 'retry')).toMatchObject({ kind: 'closed', reason: 'not acknowledged within the retry schedule' });
    expect(waiting()).toMatchObject({ status: 'dead', scheduledAttempts: 3, lastError: 'not acknowledged within the retry schedule' });
    expect(waiting().nextAttemptAt).toBeUndefined();
    expect(s.systemEvents.published.map((e) => e.type)).toEqual(['message.attempt.exhausted']);
    expect(s.sender.requests).toEqual([]);
  });

  test('fetched, it carries the signed request Sluice would have POSTed; acknowledged, its next check finds it done', async () => {
    const s = setup();
    await s.runFirst(firstJobFor(s.message, [POLL.id]));
    s.clock.advance(5000);
    const item = await s.inbox.fetch(RECEIVER, s.deliveryId);
    expect(item.request?.body).toBe(
      `{"id":"${s.message.id}","type":"${s.message.type}","createdAt":"${s.message.createdAt}","data":${s.message.payloadJson}}`,
    );
    expect(item.request?.headers).toMatchObject({
      'webhook-id': s.message.id,
      'webhook-timestamp': String(Math.floor(T0.getTime() / 1000) + 5),
      'content-type': 'application/json',
      'x-sluice-delivery-id': s.deliveryId,
    });
    const signedAt = new Date(T0.getTime() + 5000);
    expect(new Webhook(SECRET).sign(s.message.id, signedAt, item.request?.body ?? '')).toBe(item.request?.headers['webhook-signature']);

    await s.inbox.acknowledge(RECEIVER, s.deliveryId);
    s.clock.advance(60_000);
    const stored = s.deliveries.deliveries.get(s.deliveryId) ?? aDelivery();
    expect(await s.run(jobFor(stored), 'retry')).toMatchObject({ kind: 'skipped', reason: 'delivery is already acknowledged' });
  });

  test('a manual attempt (retry, replay) has nothing to send to a poll endpoint', async () => {
    const s = setup();
    await s.runFirst(firstJobFor(s.message, [POLL.id]));
    const stored = s.deliveries.deliveries.get(s.deliveryId) ?? aDelivery();
    expect(await s.run({ ...jobFor(stored), trigger: 'manual' }, 'retry')).toEqual({
      kind: 'skipped',
      deliveryId: s.deliveryId,
      reason: 'a poll endpoint is not sent to: its receiver pulls',
    });
  });

  test('once the endpoint is a full one, its deliveries are no inbox items', async () => {
    const s = setup();
    await s.runFirst(firstJobFor(s.message, [POLL.id]));
    await s.endpoints.update({ ...POLL, mode: 'full', url: 'https://receiver.example.com/' });
    await expect(s.inbox.fetch(RECEIVER, s.deliveryId)).rejects.toThrow(`inbox delivery '${s.deliveryId}' does not exist`);
  });
});
