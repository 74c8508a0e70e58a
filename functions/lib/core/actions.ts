import { type AccessService, allows } from './access.ts';
import type { ApiKeyService } from './api-keys.ts';
import type { Clock } from './clock.ts';
import type { EndpointDirectory } from './endpoint-directory.ts';
import { NotFoundError, RateLimitedError, UnauthorizedError, ValidationError } from './errors.ts';
import type { IdGenerator } from './ids.ts';
import type { MessageLog } from './messages.ts';
import type { Action, ActionKind, ActionTarget, Endpoint, Page, PageRequest, SensorData, TriggerRecord } from './model.ts';
import type { ActionStore, RateLimiter } from './ports.ts';

export const DEVICE_COMMAND_TYPE = 'device.command';
/** Triggers per second a single inbound key may make before it gets 429. */
export const DEFAULT_HOOK_RATE_LIMIT_PER_SECOND = 10;

export interface ActionInput {
  readonly name: string;
  readonly eventId: string;
  readonly action: ActionKind;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly target: ActionTarget;
}

/** The devices an action reaches: endpoints with a `deviceId` that match its target. */
export function targetedDevices(endpoints: readonly Endpoint[], target: ActionTarget): Endpoint[] {
  return endpoints.filter((endpoint) => {
    if (endpoint.deviceId === undefined) return false;
    if (target.type === 'device') return endpoint.deviceId === target.deviceId;
    if (target.type === 'group') return endpoint.groups?.includes(target.group) ?? false;
    return true;
  });
}

export interface ActionDeps {
  readonly actions: ActionStore;
  readonly apiKeys: ApiKeyService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export class ActionService {
  constructor(private readonly deps: ActionDeps) {}

  async create(tenantId: string, input: ActionInput): Promise<Action> {
    const action: Action = {
      id: this.deps.ids.next('action'),
      tenantId,
      name: input.name,
      eventId: input.eventId,
      action: input.action,
      ...(input.params && { params: input.params }),
      target: input.target,
      createdAt: this.deps.clock.now().toISOString(),
    };
    await this.deps.actions.create(action);
    return action;
  }

  async get(tenantId: string, id: string): Promise<Action> {
    const action = await this.deps.actions.get(tenantId, id);
    if (!action) throw new NotFoundError('action', id);
    return action;
  }

  list(tenantId: string, page: PageRequest): Promise<Page<Action>> {
    return this.deps.actions.list(tenantId, page);
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.deps.actions.delete(tenantId, id))) throw new NotFoundError('action', id);
  }

  async triggers(tenantId: string, id: string, page: PageRequest): Promise<Page<TriggerRecord>> {
    await this.get(tenantId, id);
    return this.deps.actions.listTriggers(id, page);
  }

  /**
   * A ready-to-open GET URL for the action: the inbound key (revealed from its sealed copy) and
   * the base64 payload `{"event_id": …}`, as a third party that can only configure a URL needs.
   */
  async triggerUrl(tenantId: string, id: string, keyId: string, baseUrl: string): Promise<string> {
    const action = await this.get(tenantId, id);
    const { apiKey, key } = await this.deps.apiKeys.reveal(tenantId, keyId);
    if (!allows(apiKey.scopes, ['inbound'])) {
      throw new ValidationError(`key ${keyId} has no 'inbound' scope; create one with scopes ["inbound"]`);
    }
    const payload = Buffer.from(JSON.stringify({ event_id: action.eventId })).toString('base64');
    return `${baseUrl}/v1/hooks?api_key=${encodeURIComponent(key)}&payload=${encodeURIComponent(payload)}`;
  }
}

export interface HookInput {
  readonly eventId: string;
  readonly sensorData?: SensorData;
}

export interface HookDeps {
  readonly access: AccessService;
  readonly actions: ActionStore;
  readonly endpoints: EndpointDirectory;
  readonly messages: MessageLog;
  readonly rateLimiter: RateLimiter;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly rateLimitPerSecond?: number;
}

/**
 * Inbound webhooks: authenticate the caller's key, find the action for its `event_id`, and send
 * a signed `device.command` to every targeted device through the normal delivery pipeline.
 * Every call that reaches an action is recorded (time, key id, source IP, outcome).
 */
export class HookService {
  constructor(private readonly deps: HookDeps) {}

  async trigger(presentedKey: string | undefined, input: HookInput, sourceIp: string): Promise<{ actionId: string; deliveries: number }> {
    // Only a refused key is a 401; a store that failed (throttled, timed out) stays a 500, safe to retry.
    const principal = await this.deps.access.authenticate(presentedKey).catch((error: unknown) => {
      throw error instanceof UnauthorizedError ? new UnauthorizedError('the API key is missing or not valid') : error;
    });
    // A portal session is a person's, for the portal: a trigger needs an `inbound` key.
    if (principal.kind !== 'tenant' || principal.session || !allows(principal.scopes, ['inbound'])) {
      throw new UnauthorizedError("the API key is missing or not valid (it needs the 'inbound' scope)");
    }
    const now = this.deps.clock.now();
    if (
      !(await this.deps.rateLimiter.tryAcquire(
        { hookKeyId: principal.keyId },
        this.deps.rateLimitPerSecond ?? DEFAULT_HOOK_RATE_LIMIT_PER_SECOND,
        now,
      ))
    ) {
      throw new RateLimitedError(
        `too many triggers for this key: at most ${this.deps.rateLimitPerSecond ?? DEFAULT_HOOK_RATE_LIMIT_PER_SECOND} a second`,
      );
    }
    const action = await this.deps.actions.findByEventId(principal.tenantId, input.eventId);
    if (!action) throw new NotFoundError('action for event_id', input.eventId);
    const record = (outcome: Pick<TriggerRecord, 'outcome' | 'messageId' | 'deliveries' | 'error'>) =>
      this.deps.actions.recordTrigger({
        id: this.deps.ids.next('attemptEvent'),
        actionId: action.id,
        tenantId: action.tenantId,
        at: now.toISOString(),
        keyId: principal.keyId,
        sourceIp,
        eventId: input.eventId,
        ...outcome,
      });
    if (action.action === 'send_sensor_event' && !input.sensorData) {
      const error = 'sensor_data is required for a send_sensor_event action';
      await record({ outcome: 'rejected', error });
      throw new ValidationError(error);
    }
    const devices = targetedDevices(await this.deps.endpoints.all(action.tenantId), action.target);
    // Routed by target, never by subscription: the message goes to these devices only.
    const { message } = await this.deps.messages.publish({
      tenantId: action.tenantId,
      type: DEVICE_COMMAND_TYPE,
      payloadJson: JSON.stringify({
        actionId: action.id,
        eventId: action.eventId,
        action: action.action,
        params: action.params ?? {},
        sensorData: input.sensorData ?? null,
      }),
      endpoints: devices,
    });
    await record({ outcome: 'delivered', messageId: message.id, deliveries: devices.length });
    return { actionId: action.id, deliveries: devices.length };
  }
}
