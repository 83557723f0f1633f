/**
 * Measures how late the event loop runs a timer: a tick every `intervalMs` notes how much later
 * than asked it ran. A lag that grows means the process cannot keep up (a long synchronous task,
 * CPU starvation). The timer is unref'd: it never keeps a process alive.
 *
 * @module
 */

/** The lag seen: the last tick's and the largest since the last {@linkcode EventLoopLag.takeMax}. */
export interface EventLoopLag {
  /** Seconds the last tick ran late. */
  readonly lastSeconds: number;
  /** The largest lag since the last call, in seconds; starts the next window. */
  takeMax(): number;
  stop(): void;
}

/**
 * Starts measuring.
 *
 * @example
 * ```ts
 * import { measureEventLoopLag } from "./event_loop_lag.ts";
 * const lag = measureEventLoopLag(10);
 * await new Promise((resolve) => setTimeout(resolve, 30));
 * console.log(lag.lastSeconds >= 0); // true
 * lag.stop();
 * ```
 */
export function measureEventLoopLag(intervalMs = 500): EventLoopLag {
  let last = 0;
  let max = 0;
  let expected = performance.now() + intervalMs;
  const timer = setInterval(() => {
    const now = performance.now();
    last = Math.max(0, now - expected) / 1000;
    max = Math.max(max, last);
    expected = now + intervalMs;
  }, intervalMs);
  Deno.unrefTimer(timer);
  return {
    get lastSeconds() {
      return last;
    },
    takeMax() {
      const seen = Math.max(max, last);
      max = 0;
      return seen;
    },
    stop: () => clearInterval(timer),
  };
}
