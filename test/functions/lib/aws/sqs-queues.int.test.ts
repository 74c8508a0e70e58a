/**
 * Integration (the shared local stack's SQS server): the delivery queue adapter's delays. A paced
 * page of a replay gives each task its own delay in one batched send.
 */
import { CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { SqsDeliveryQueue } from '../../../../functions/lib/aws/sqs-queues.ts';
import type { DeliveryJob } from '../../../../functions/lib/core/jobs.ts';
import { sqsClient } from '../../../support/stack.ts';

const sqs = sqsClient();
let queueUrl: string;

beforeAll(async () => {
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `sluice-delays-${Date.now()}` }))).QueueUrl ?? '';
});

afterAll(async () => {
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs.destroy();
});

async function receiveIds(): Promise<string[]> {
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
  return Messages.map((message) => (JSON.parse(message.Body ?? '{}') as DeliveryJob).deliveryId).sort();
}

test('delaysSeconds holds each task back by its own delay', async () => {
  const queue = new SqsDeliveryQueue(sqs, { primary: queueUrl, retry: queueUrl });
  const job = (deliveryId: string): DeliveryJob => ({ deliveryId, tenantId: 'ten_1', messageId: 'msg_1', endpointId: 'ep_1' });
  await queue.enqueue([job('dlv_now'), job('dlv_later'), job('dlv_now_too')], { lane: 'retry', delaysSeconds: [0, 2, 0] });
  expect(await receiveIds()).toEqual(['dlv_now', 'dlv_now_too']);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  expect(await receiveIds()).toEqual(['dlv_later']);
});
