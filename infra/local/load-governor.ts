import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * The local stack runs every function in one event loop, where Lambda would give each concurrent
 * invocation a machine of its own. Unchecked, the pollers would start invocations until the loop
 * itself is the bottleneck: every HTTP answer is then read late, healthy endpoints look slow,
 * and the API waits behind the consumers. The governor reports when the loop is lagging, and the
 * pollers start no new invocation meanwhile (one in flight always may), so the stack scales out
 * as far as this machine can carry, as Lambda scales as far as the account allows.
 */
export class LoadGovernor {
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;
  private lagging = false;

  constructor(
    /** Mean event-loop delay, over the last window, above which the loop counts as busy. */
    private readonly maxLagMs = 40,
    windowMs = 100,
  ) {
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.lagging = this.histogram.mean / 1e6 > this.maxLagMs;
      this.histogram.reset();
    }, windowMs);
    this.timer.unref();
  }

  get busy(): boolean {
    return this.lagging;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
