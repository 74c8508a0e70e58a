import { ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { MessageService } from '../../../../functions/lib/core/messages.ts';
import type { PayloadSchemaValidator, SchemaIssue } from '../../../../functions/lib/core/ports.ts';
import { FakeClock, InMemoryEventTypeStore, InMemoryMessageStore, RecordingFanOutQueue, T0, TENANT } from './fakes.ts';

function setup() {
  const messages = new InMemoryMessageStore();
  const fanOut = new RecordingFanOutQueue();
  const clock = new FakeClock(T0);
  const validations: string[] = [];
  const validator: PayloadSchemaValidator = {
    checkSchema: () => [],
    validate: (cacheKey): readonly SchemaIssue[] => {
      validations.push(cacheKey);
      return [];
    },
  };
  const service = new MessageService({
    messages,
    eventTypes: new InMemoryEventTypeStore(),
    validator,
    fanOut,
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
  });
  return { service, messages, fanOut, validations };
}

describe('MessageService.publishSystemEvent', () => {
  test('stores a message of the system type, with no declared event type, and queues its fan-out', async () => {
    const s = setup();
    const payload = { endpointId: 'ep_A', url: 'https://receiver.example.com/hooks', reason: 'gone', disabledAt: T0.toISOString() };
    const message = await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', payload);
    expect(message).toEqual({
      id: expect.stringMatching(/^msg_[0-9A-HJKMNP-TV-Z]{26}$/),
      tenantId: TENANT,
      type: 'endpoint.disabled',
      payloadJson: JSON.stringify(payload),
      createdAt: T0.toISOString(),
    });
    expect(s.messages.messages.get(message.id)).toEqual(message);
    expect(s.fanOut.jobs).toEqual([{ messageId: message.id, tenantId: TENANT }]);
    expect(s.validations).toEqual([]);
  });

  test('every call is a new message (no idempotency key)', async () => {
    const s = setup();
    const first = await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', { endpointId: 'ep_A' });
    const second = await s.service.publishSystemEvent(TENANT, 'endpoint.disabled', { endpointId: 'ep_A' });
    expect(first.id).not.toBe(second.id);
    expect(s.messages.messages.size).toBe(2);
    expect(s.fanOut.jobs.map((j) => j.messageId)).toEqual([first.id, second.id]);
  });
});
