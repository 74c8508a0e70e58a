/**
 * Attempts in flight in this process, per endpoint. An endpoint whose oldest attempt has been
 * waiting longer than `slowAfterMs` is slow: its next jobs go to the retry lane instead of
 * holding a primary-lane batch open until they time out too.
 */
export class InFlightAttempts {
  /** Start time of every attempt in flight, per endpoint, keyed by a per-attempt token. */
  private readonly started = new Map<string, Map<number, number>>();
  private nextToken = 0;

  constructor(private readonly slowAfterMs = 1000) {}

  begin(endpointId: string, at: number): () => void {
    const attempts = this.started.get(endpointId) ?? new Map<number, number>();
    const token = this.nextToken++;
    attempts.set(token, at);
    this.started.set(endpointId, attempts);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      attempts.delete(token);
      if (attempts.size === 0 && this.started.get(endpointId) === attempts) this.started.delete(endpointId);
    };
  }

  isSlow(endpointId: string, now: number): boolean {
    for (const at of this.started.get(endpointId)?.values() ?? []) if (now - at > this.slowAfterMs) return true;
    return false;
  }
}
