/**
 * The one queue-task type of the delivery lanes, declared once: the edge parses queue bodies with
 * these schemas and the core builds tasks with the inferred types.
 */
import * as z from 'zod';
import { type Delivery, replayScopes } from './model.ts';

/** Endpoints one first-attempt job carries: one queue message, one invocation's worth of POSTs. */
export const MAX_ENDPOINTS_PER_JOB = 10;
/**
 * Payloads up to this size travel in the job, so a first attempt reads nothing from the ledger;
 * larger ones are read from the message. SQS bills each 64 KiB of a request as one request.
 */
export const MAX_INLINE_PAYLOAD_BYTES = 48 * 1024;

/** SQS caps a message's delay at 15 minutes; longer waits are re-enqueued in steps. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

const id = z.string().min(1).max(128);

/** First attempts of one message to up to ten endpoints, dispatched when the message is accepted. */
export const FirstAttemptJob = z.object({
  kind: z.literal('first'),
  tenantId: id,
  messageId: id,
  type: z.string().min(1).max(200),
  createdAt: z.string().min(1).max(40),
  endpointIds: z.array(id).min(1).max(MAX_ENDPOINTS_PER_JOB),
  /** The payload as posted, when it is small enough to travel with the job. */
  payloadJson: z.string().optional(),
  /**
   * Sent again by the sweeper, which found no delivery for these endpoints: the original job may
   * only have been slow, so the worker checks the ledger before attempting.
   */
  recheck: z.boolean().optional(),
  /**
   * A scheduled message's time: the job is not run before it, and the first job to run marks the
   * message released (no longer cancellable), or finds it cancelled and attempts nothing.
   */
  deliverAt: z.string().min(1).max(40).optional(),
});
export type FirstAttemptJob = z.infer<typeof FirstAttemptJob>;

/**
 * Any later attempt of one delivery that is in the ledger: retries, manual attempts, the
 * sweeper's re-enqueues, jobs moved to the retry lane. Its shape predates `kind`, so jobs queued
 * by an earlier version still parse.
 */
export const DeliveryJob = z.object({
  deliveryId: id,
  tenantId: id,
  messageId: id,
  endpointId: id,
  trigger: z.enum(['scheduled', 'manual']).optional(),
  /**
   * A manual attempt a replay task queued: made only if the delivery is still in the replayed
   * statuses and no replay attempted it in its current state (`DeliveryStore.claimReplay`).
   */
  replay: z.object({ taskId: id, status: z.enum(replayScopes) }).optional(),
});
export type DeliveryJob = z.infer<typeof DeliveryJob>;

/**
 * An operational event to store and route, for a function that may not write messages itself
 * (deleting an endpoint deletes, never puts): the retry lane's consumer publishes it. `key` makes
 * a task SQS hands out twice one message.
 */
export const AnnouncementTask = z.object({
  kind: z.literal('announce'),
  tenantId: id,
  type: z.string().min(1).max(200),
  payload: z.record(z.string(), z.unknown()),
  key: z.string().min(1).max(256),
});
export type AnnouncementTask = z.infer<typeof AnnouncementTask>;

/** One page of a replay task (`ReplayService.step`): a step runs only while the task is at its number. */
export const ReplayStep = z.object({
  kind: z.literal('replay'),
  tenantId: id,
  taskId: id,
  step: z.number().int().min(0),
});
export type ReplayStep = z.infer<typeof ReplayStep>;

export const QueueTask = z.union([FirstAttemptJob, DeliveryJob, AnnouncementTask, ReplayStep]);
export type QueueTask = z.infer<typeof QueueTask>;
/** The tasks the delivery worker runs; replay steps run on the replay service. */
export type DeliveryTask = Exclude<QueueTask, ReplayStep>;

export function isFirstAttemptJob(task: QueueTask): task is FirstAttemptJob {
  return 'kind' in task && task.kind === 'first';
}

export function isReplayStep(task: QueueTask): task is ReplayStep {
  return 'kind' in task && task.kind === 'replay';
}

export function isAnnouncement(task: QueueTask): task is AnnouncementTask {
  return 'kind' in task && task.kind === 'announce';
}

export function jobOf(delivery: Delivery, trigger?: DeliveryJob['trigger']): DeliveryJob {
  return {
    deliveryId: delivery.id,
    tenantId: delivery.tenantId,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
    ...(trigger && { trigger }),
  };
}
