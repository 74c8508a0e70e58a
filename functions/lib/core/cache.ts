import type { Clock } from './clock.ts';

/**
 * How long a process may use a copy of a key grant, an event type or a tenant's endpoints
 * (docs/decisions.md, "The hot path"): a revoked key, a changed schema or endpoint takes effect
 * everywhere within this, and at once in the process that made the change.
 */
export const DEFAULT_CACHE_SECONDS = 5;

/**
 * A small read-through cache for what the hot path would otherwise read on every message: a key
 * grant, an event type, a tenant's endpoints. Entries live at most `ttlMs` (the staleness every
 * reader accepts, documented in docs/decisions.md), at most `maxEntries` of them (the oldest
 * goes first), and concurrent misses for one key share one load. A write in this process
 * invalidates the entry at once; other processes see it within `ttlMs`.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<V>>();
  /** Bumped by `invalidate`, so a load that started before it does not store a stale value. */
  private generation = 0;

  constructor(
    private readonly clock: Clock,
    readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** The cached value, or `load()`'s, which is cached unless `cacheable` says no (e.g. "not found"). */
  async getOrLoad(key: string, load: () => Promise<V>, cacheable: (value: V) => boolean = () => true): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const generation = this.generation;
    const promise = load().then(
      (value) => {
        // Only this load's entry: after an invalidate, a newer load may be in flight for the key.
        if (this.loading.get(key) === promise) this.loading.delete(key);
        if (generation === this.generation && cacheable(value)) this.set(key, value);
        return value;
      },
      (error: unknown) => {
        if (this.loading.get(key) === promise) this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, promise);
    return promise;
  }

  set(key: string, value: V): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.clock.now().getTime() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  invalidate(key: string): void {
    this.generation++;
    this.entries.delete(key);
    this.loading.delete(key);
  }

  /** No load that is running now may store its value (its key is not known yet). */
  discardPendingLoads(): void {
    this.generation++;
    this.loading.clear();
  }
}
