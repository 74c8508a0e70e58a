import type { Clock } from './clock.ts';
import type { AttributedReport, DeliveryService } from './delivery.ts';
import { firstAttemptJobs } from './dispatch.ts';
import { ConflictError, NotFoundError } from './errors.ts';
import type { MessageLog } from './messages.ts';
import type { Message } from './model.ts';
import type { EndpointStore } from './ports.ts';

export const PING_TYPE = 'sluice.ping';

export interface EndpointTestDeps {
  readonly endpoints: EndpointStore;
  readonly messages: MessageLog;
  readonly delivery: DeliveryService;
  readonly clock: Clock;
}

/**
 * `POST /v1/endpoints/{id}/test`: a `sluice.ping` message for this endpoint only, attempted at
 * once, with the outcome in the answer. It is a real message in the history; if the attempt
 * fails, the endpoint's retry schedule takes over as for any delivery.
 */
export class EndpointTester {
  constructor(private readonly deps: EndpointTestDeps) {}

  async ping(tenantId: string, endpointId: string): Promise<{ message: Message; report: AttributedReport }> {
    const endpoint = await this.deps.endpoints.get(tenantId, endpointId);
    if (!endpoint) throw new NotFoundError('endpoint', endpointId);
    if (endpoint.disabled) throw new ConflictError(`endpoint ${endpointId} is disabled; enable it (PATCH {"disabled": false}) to test it`);
    const now = this.deps.clock.now().toISOString();
    const { message } = await this.deps.messages.publish({
      tenantId,
      type: PING_TYPE,
      payloadJson: JSON.stringify({ endpointId, message: 'This is a test event from Sluice.', sentAt: now }),
      // Addressed to this endpoint only, and attempted here rather than through dispatch.
      endpoints: [endpoint],
      attemptedInline: true,
    });
    const [job] = firstAttemptJobs(message, [endpointId]);
    if (!job) throw new Error('a ping makes exactly one job');
    const context = await this.deps.delivery.prepare([{ task: job, receiveCount: 1 }]);
    const [report] = await this.deps.delivery.runFirst(job, context, 'retry', { manual: true });
    if (!report) throw new Error('a ping makes exactly one attempt');
    return { message, report };
  }
}
