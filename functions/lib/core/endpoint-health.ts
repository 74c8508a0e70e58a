/**
 * Endpoint health, from the outcome of each attempt: a run of failures that spans the failure
 * window, or a 410, disables the endpoint and tells the tenant with an `endpoint.disabled` event;
 * a success ends the run. The start of a run is announced (`message.attempt.failing`, at most
 * hourly per endpoint) and so is its end (`message.attempt.recovered`), except when the attempt
 * was itself the delivery of an operational event: an event never causes one about its own delivery.
 */
import type { EndpointDirectory } from './endpoint-directory.ts';
import type { AttemptOutcome, Delivery, Endpoint } from './model.ts';
import {
  attemptEventPayload,
  disabledEventPayload,
  FAILING_NOTICE_INTERVAL_SECONDS,
  isOperationalEventType,
} from './operational-events.ts';
import type { EndpointStore, SystemEventPublisher } from './ports.ts';

/** Default run of failures after which an endpoint is disabled (contract: 5 days). */
export const DEFAULT_FAILURE_WINDOW_SECONDS = 5 * 24 * 3600;

export interface EndpointHealthDeps {
  /** Health writes (failures, successes, disabling). */
  readonly endpointStore: EndpointStore;
  /** The routing cache, invalidated when a run starts or ends. */
  readonly endpoints: Pick<EndpointDirectory, 'invalidate'>;
  readonly systemEvents: SystemEventPublisher;
  /** A run of failures this long disables the endpoint. */
  readonly failureWindowSeconds?: number;
}

export class EndpointHealth {
  constructor(private readonly deps: EndpointHealthDeps) {}

  /**
   * Consecutive-failure tracking. A run of failures that spans the window disables the endpoint
   * and tells the tenant with an `endpoint.disabled` event. Returns the reason when it disabled.
   * Only the start and the end of a run change what routing reads, so only they invalidate the
   * endpoint cache.
   */
  async track(endpoint: Endpoint, outcome: AttemptOutcome, at: Date, delivery: Delivery): Promise<string | undefined> {
    const announces = !isOperationalEventType(delivery.eventType);
    if (outcome === 'succeeded') {
      if (endpoint.failingSince) {
        const ended = await this.deps.endpointStore.recordSuccess(endpoint.tenantId, endpoint.id);
        this.deps.endpoints.invalidate(endpoint.tenantId);
        // The copy read before the attempt says when the run began; only the worker whose write ended it announces it.
        if (ended && announces) {
          await this.deps.systemEvents.publish(endpoint.tenantId, 'message.attempt.recovered', {
            ...attemptEventPayload(endpoint, delivery),
            failingSince: endpoint.failingSince,
            recoveredAt: at.toISOString(),
            ...(endpoint.consecutiveFailures !== undefined && { failedAttempts: endpoint.consecutiveFailures }),
          });
        }
      }
      return undefined;
    }
    if (outcome === 'gone') return this.disable(endpoint, `the endpoint answered 410 Gone at ${at.toISOString()}`, at);
    const failingSince = await this.deps.endpointStore.recordFailure(endpoint.tenantId, endpoint.id, at.toISOString());
    if (failingSince === at.toISOString()) {
      this.deps.endpoints.invalidate(endpoint.tenantId);
      // This attempt began a run. One conditional write, on this rare step only, keeps the notice hourly.
      const notBefore = new Date(at.getTime() - FAILING_NOTICE_INTERVAL_SECONDS * 1000).toISOString();
      if (announces && (await this.deps.endpointStore.claimFailingNotice(endpoint.tenantId, endpoint.id, failingSince, notBefore))) {
        await this.deps.systemEvents.publish(endpoint.tenantId, 'message.attempt.failing', {
          ...attemptEventPayload(endpoint, delivery),
          failingSince,
        });
      }
    }
    const windowSeconds = this.deps.failureWindowSeconds ?? DEFAULT_FAILURE_WINDOW_SECONDS;
    if (failingSince && at.getTime() - Date.parse(failingSince) >= windowSeconds * 1000) {
      return this.disable(endpoint, `every attempt failed from ${failingSince} to ${at.toISOString()}`, at, failingSince);
    }
    return undefined;
  }

  private async disable(endpoint: Endpoint, reason: string, at: Date, failingSince?: string): Promise<string | undefined> {
    if (endpoint.disabled) return undefined;
    // Only the worker whose write actually disabled it announces it.
    if (!(await this.deps.endpointStore.disable(endpoint.tenantId, endpoint.id, reason, at.toISOString()))) return undefined;
    this.deps.endpoints.invalidate(endpoint.tenantId);
    // Not to the endpoint itself: disabled, it would only hold the news of it, paused.
    await this.deps.systemEvents.publish(
      endpoint.tenantId,
      'endpoint.disabled',
      disabledEventPayload(endpoint, reason, at.toISOString(), failingSince),
      { exceptEndpointId: endpoint.id },
    );
    return reason;
  }
}
