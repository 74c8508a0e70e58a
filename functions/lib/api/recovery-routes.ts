import * as z from 'zod';
import type { DeliveryReport } from '../core/delivery.ts';
import { type ReplayTask, replayScopes } from '../core/model.ts';
import { MAX_REPLAY_EVENT_TYPES } from '../core/replay.ts';
import { DeliveryView, MessageAccepted } from './message-routes.ts';
import { defineRoute, ErrorBody, errorResponses, HistoryPageQuery, IdParams, notFound, pageOf } from './route-spec.ts';

const conflict = { 409: { description: 'The endpoint is disabled or deleted: enable it first', schema: ErrorBody } } as const;

export const retryDelivery = defineRoute({
  name: 'retry-delivery',
  method: 'POST',
  path: '/v1/deliveries/{id}/retry',
  // Operator attempts go to the retry lane (`RecoveryService`).
  uses: { ledger: 'read', sends: ['retry'] },
  idempotent: true,
  tag: 'Recovery',
  summary: 'One more attempt now, whatever the delivery’s state',
  description:
    'Queued at once; the attempt is recorded with trigger `manual`. A failed manual attempt leaves a finished delivery as it was.',
  access: ['admin'],
  params: IdParams,
  responses: {
    202: { description: 'The attempt is queued', schema: z.object({ deliveryId: z.string(), queued: z.literal(true) }) },
    ...errorResponses,
    ...notFound,
    ...conflict,
  },
});

export const recoverEndpoint = defineRoute({
  name: 'recover-endpoint',
  method: 'POST',
  path: '/v1/endpoints/{id}/recover',
  uses: { ledger: 'read', queries: ['gsi3'], sends: ['retry'] },
  idempotent: true,
  tag: 'Recovery',
  summary: 'Re-send every failed or dead delivery of an endpoint since a time',
  access: ['admin'],
  params: IdParams,
  body: z.strictObject({ since: z.iso.datetime({ offset: true }).meta({ example: '2026-11-24T00:00:00Z' }) }),
  responses: {
    202: {
      description: 'How many deliveries were queued (at most 1000 a call; `truncated` says more remain)',
      schema: z.object({ queued: z.number(), truncated: z.boolean() }),
    },
    ...errorResponses,
    ...notFound,
    ...conflict,
  },
});

const dateTime = z.iso.datetime({ offset: true });

export const ReplayRequestBody = z.strictObject({
  since: dateTime.meta({ description: 'Replay deliveries of messages created at or after this time', example: '2026-11-24T00:00:00Z' }),
  until: dateTime.optional().meta({ description: 'and before this time; by default, up to when the replay starts' }),
  eventTypes: z
    .array(z.string().min(1).max(200))
    .min(1)
    .max(MAX_REPLAY_EVENT_TYPES)
    .optional()
    .meta({ description: 'Only deliveries of these event types' }),
  status: z.enum(replayScopes).default('failed').meta({
    description: '`failed`: every delivery that did not get through (failing or dead); `dead`: dead letters only; `all`: every delivery',
  }),
});

export const TaskView = z
  .object({
    id: z.string().meta({ example: 'task_01JD8X3Q4R5S6T7V8W9X0Y1Z2A' }),
    kind: z.literal('replay'),
    endpointId: z.string(),
    status: z.enum(['queued', 'running', 'done', 'failed']).meta({
      description: '`done`: every matching delivery has had its attempt queued (they are made at the endpoint’s pace)',
    }),
    request: z.object({
      since: z.string(),
      until: z.string().optional(),
      eventTypes: z.array(z.string()).optional(),
      status: z.enum(replayScopes),
    }),
    until: z.string().meta({ description: 'Deliveries of messages created before this time are replayed' }),
    counts: z.object({
      scanned: z.number().int().meta({ description: 'Deliveries in the range and statuses read so far' }),
      queued: z.number().int().meta({ description: 'Attempts queued so far (after the event-type filter)' }),
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
    error: z.string().optional().meta({ description: 'Why a `failed` task stopped' }),
  })
  .meta({ id: 'Task' });

export function taskView(task: ReplayTask) {
  return {
    id: task.id,
    kind: task.kind,
    endpointId: task.endpointId,
    status: task.status,
    request: task.request,
    until: task.until,
    counts: task.counts,
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
    ...(task.finishedAt && { finishedAt: task.finishedAt }),
    ...(task.error && { error: task.error }),
  };
}

export const replayEndpoint = defineRoute({
  name: 'replay-endpoint',
  method: 'POST',
  path: '/v1/endpoints/{id}/replay',
  // The endpoint (Get), its replay lock and task (Gets), a new task and lock (TransactWrite of
  // Puts); the first step goes to the retry lane, whose consumer pages and queues the rest.
  uses: { ledger: 'write', sends: ['retry'] },
  idempotent: true,
  tag: 'Recovery',
  summary: 'Replay an endpoint’s deliveries over a time range, as a background task',
  description:
    'Each matching delivery gets one more attempt (trigger `manual`), paced at the endpoint’s `rateLimitPerSecond` (50 a second when it sets none). A delivery gets at most one replay attempt in a given state, however often a replay is started. One replay runs per endpoint at a time: the same request while it runs answers the running task, a different one is 409. Follow the task at `Location`.',
  access: ['admin'],
  params: IdParams,
  body: ReplayRequestBody,
  responses: {
    202: {
      description: 'The replay task, started or already running',
      schema: TaskView,
      headers: { location: 'The task: `/v1/tasks/{id}`' },
    },
    ...errorResponses,
    ...notFound,
    409: { description: 'The endpoint is disabled, or another replay of it is running', schema: ErrorBody },
  },
});

export const getTask = defineRoute({
  name: 'get-task',
  method: 'GET',
  path: '/v1/tasks/{id}',
  uses: { ledger: 'read' },
  tag: 'Recovery',
  summary: 'A background task’s progress',
  access: ['admin'],
  params: IdParams,
  responses: { 200: { description: 'The task', schema: TaskView }, ...errorResponses, ...notFound },
});

export const listDeadLetters = defineRoute({
  name: 'list-dead-letters',
  method: 'GET',
  path: '/v1/dead-letters',
  // the tenant's (gsi4), or one endpoint's (gsi3 dead partition)
  uses: { ledger: 'read', queries: ['gsi3', 'gsi4'] },
  tag: 'Recovery',
  summary: 'Deliveries that exhausted their retries, newest first',
  access: ['admin'],
  query: HistoryPageQuery.extend({
    endpointId: z.string().min(1).max(64).optional().meta({ description: 'Only the dead letters of this endpoint' }),
  }),
  responses: {
    200: { description: 'Dead deliveries', schema: pageOf(DeliveryView, 'DeadLetterPage') },
    ...errorResponses,
    404: { description: 'No such endpoint (`endpointId`)', schema: ErrorBody },
  },
});

export const redriveDeadLetters = defineRoute({
  name: 'redrive-dead-letters',
  method: 'POST',
  path: '/v1/dead-letters/redrive',
  // BatchGet or gsi4 page; conditional Update each
  uses: { ledger: 'write', queries: ['gsi4'], sends: ['retry'] },
  idempotent: true,
  tag: 'Recovery',
  summary: 'Send dead deliveries (the given ones, or all) back into delivery with a fresh retry schedule',
  access: ['admin'],
  body: z.strictObject({ ids: z.array(z.string().min(1).max(64)).min(1).max(1000).optional() }),
  responses: {
    202: {
      description: 'What was redriven, and what was not and why',
      schema: z.object({ redriven: z.array(z.string()), skipped: z.array(z.object({ id: z.string(), reason: z.string() })) }),
    },
    ...errorResponses,
  },
});

export const TestResult = z
  .object({
    message: MessageAccepted,
    deliveryId: z.string(),
    outcome: z.enum(['succeeded', 'failed', 'gone', 'not_attempted']),
    statusCode: z.number().optional(),
    durationMs: z.number().optional(),
    error: z.string().optional(),
    responseBody: z.string().optional(),
  })
  .meta({ id: 'EndpointTestResult' });

export const testEndpoint = defineRoute({
  name: 'test-endpoint',
  method: 'POST',
  path: '/v1/endpoints/{id}/test',
  // A real first attempt made in the request (`EndpointTester` -> `DeliveryService.runFirst` on
  // the retry lane): the ping message (Put, born attempted, so dispatch skips it), the endpoint
  // cache (Query), the delivery (a batched write when it succeeded, a conditional Put otherwise),
  // health updates; a throttled attempt or a retry goes to the retry lane, and disabling the
  // endpoint (410, failure window) stores an `endpoint.disabled` message (Put), which dispatch
  // queues. It never sends to the primary lane and never dead-letters (a new delivery always has a retry).
  uses: { ledger: 'record', queries: ['table'], sends: ['retry'] },
  idempotent: true,
  tag: 'Endpoints',
  summary: 'Send a `sluice.ping` event to this endpoint now and answer with the outcome',
  access: ['admin'],
  params: IdParams,
  responses: { 200: { description: 'The attempt’s outcome', schema: TestResult }, ...errorResponses, ...notFound, ...conflict },
});

export function testResult(report: DeliveryReport) {
  if (report.kind !== 'attempted') return { outcome: 'not_attempted' as const, ...('reason' in report && { error: report.reason }) };
  const { attempt } = report;
  return {
    outcome: attempt.outcome,
    durationMs: attempt.durationMs,
    ...(attempt.statusCode !== undefined && { statusCode: attempt.statusCode }),
    ...(attempt.error && { error: attempt.error }),
    ...(attempt.responseBody !== undefined && { responseBody: attempt.responseBody }),
  };
}
