import { DEFAULT_CACHE_SECONDS, TtlCache } from './cache.ts';
import type { Clock } from './clock.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import type { EventType, JsonObject, Page, PageRequest } from './model.ts';
import { builtInEventType } from './operational-event-catalog.ts';
import { isOperationalEventType, operationalEventTypes } from './operational-events.ts';
import type { EventTypeStore, PayloadSchemaValidator } from './ports.ts';

export const eventTypeNamePattern = /^[a-z0-9_]+(\.[a-z0-9_]+)*$/;

/**
 * Bounds on a tenant's JSON Schema. It runs on every message of its type, so its cost is the
 * operator's: size bounds compile time, and patterns (each linear-time, see the ajv adapter)
 * bound validation at patterns × payload size.
 */
export const MAX_SCHEMA_BYTES = 32 * 1024;
export const MAX_SCHEMA_PATTERNS = 32;
export const MAX_PATTERN_LENGTH = 1000;
/** An array checked for unique items without scalar `items` compares each pair: keep it short. */
export const MAX_UNIQUE_ITEMS = 1000;

/** Types Sluice emits itself (the endpoint test, device commands, operational events); producers cannot declare or post them. */
export const systemEventTypes: ReadonlySet<string> = new Set(['sluice.ping', 'device.command', ...operationalEventTypes]);

/**
 * Event types as ingest reads them: once per tenant and type per `ttl`, not once per message.
 * Only found types are kept, so a type declared a moment ago is never refused as unknown.
 */
export class EventTypeCatalog {
  private readonly cache: TtlCache<EventType | null>;

  constructor(
    private readonly store: EventTypeStore,
    clock: Clock,
    ttlSeconds = DEFAULT_CACHE_SECONDS,
  ) {
    this.cache = new TtlCache(clock, ttlSeconds * 1000);
  }

  async find(tenantId: string, name: string): Promise<EventType | undefined> {
    const found = await this.cache.getOrLoad(
      `${tenantId}/${name}`,
      async () => (await this.store.get(tenantId, name)) ?? null,
      (value) => value !== null,
    );
    return found ?? undefined;
  }

  invalidate(tenantId: string, name: string): void {
    this.cache.invalidate(`${tenantId}/${name}`);
  }
}

export function isReservedEventType(name: string): boolean {
  return systemEventTypes.has(name) || name.startsWith('sluice.');
}

export interface EventTypeInput {
  readonly description?: string;
  readonly schema?: JsonObject;
}

/** Reading and deleting a tenant's event types: no schema checks, so the functions doing only this carry no validator. */
export class EventTypeRegistry {
  constructor(
    protected readonly store: EventTypeStore,
    protected readonly catalog: EventTypeCatalog,
  ) {}

  /** A tenant's type, or one of Sluice's operational events (built in, the same for every tenant). */
  async get(tenantId: string, name: string): Promise<EventType> {
    if (isOperationalEventType(name)) return builtInEventType(tenantId, name);
    const eventType = await this.store.get(tenantId, name);
    if (!eventType) throw new NotFoundError('event type', name);
    return eventType;
  }

  /** The tenant's types by name; with `includeBuiltIn`, the last page also lists the operational events, after them. */
  async list(tenantId: string, page: PageRequest, options: { readonly includeBuiltIn?: boolean } = {}): Promise<Page<EventType>> {
    const found = await this.store.list(tenantId, page);
    if (!options.includeBuiltIn || found.nextCursor !== undefined) return found;
    const builtIns = operationalEventTypes.map((name) => builtInEventType(tenantId, name));
    return { ...found, items: [...found.items, ...builtIns] };
  }

  async delete(tenantId: string, name: string): Promise<void> {
    if (isOperationalEventType(name))
      throw new ValidationError(`event type '${name}' is built in: Sluice sends it, and it cannot be deleted`);
    const deleted = await this.store.delete(tenantId, name);
    this.catalog.invalidate(tenantId, name);
    if (!deleted) throw new NotFoundError('event type', name);
  }
}

/** The registry, plus declaring a type: its name checked and its JSON Schema compiled before it is stored. */
export class EventTypeService extends EventTypeRegistry {
  constructor(
    store: EventTypeStore,
    private readonly validator: PayloadSchemaValidator,
    private readonly clock: Clock,
    catalog: EventTypeCatalog,
  ) {
    super(store, catalog);
  }

  async put(tenantId: string, name: string, input: EventTypeInput): Promise<{ eventType: EventType; created: boolean }> {
    if (!eventTypeNamePattern.test(name)) {
      throw new ValidationError(`event type name '${name}' must match ${eventTypeNamePattern.source}`);
    }
    if (isReservedEventType(name)) {
      throw new ValidationError(`event type '${name}' is reserved for events Sluice sends itself`);
    }
    if (input.schema) {
      const bytes = Buffer.byteLength(JSON.stringify(input.schema), 'utf8');
      if (bytes > MAX_SCHEMA_BYTES) {
        throw new ValidationError(`schema is ${bytes} bytes; at most ${MAX_SCHEMA_BYTES} are accepted`, [
          { path: 'schema', message: `over ${MAX_SCHEMA_BYTES} bytes` },
        ]);
      }
      const issues = this.validator.checkSchema(input.schema);
      if (issues.length > 0) throw new ValidationError('schema is not a valid JSON Schema', issues);
    }
    const existing = await this.store.get(tenantId, name);
    const now = this.clock.now().toISOString();
    const eventType: EventType = {
      tenantId,
      name,
      ...(input.description !== undefined && { description: input.description }),
      ...(input.schema !== undefined && { schema: input.schema }),
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.store.put(eventType);
    this.catalog.invalidate(tenantId, name);
    return { eventType, created: !existing };
  }
}
