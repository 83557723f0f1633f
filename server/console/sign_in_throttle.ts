/**
 * Throttles console sign-in: failed attempts are counted per operator name and per source address
 * in a sliding window; past the limit, sign-in is refused (429 with Retry-After) before any
 * password hash is computed, so guessing costs the server little and gains the guesser little.
 * Memory is bounded: past `maxTracked` entries the oldest are forgotten.
 *
 * @module
 */

/** Limits of {@linkcode SignInThrottle}. */
export interface SignInLimits {
  /** Failures allowed per name in the window. */
  perName: number;
  /** Failures allowed per source address in the window. */
  perSource: number;
  windowMs: number;
  maxTracked: number;
}

/** Default limits: 5 failures per name, 20 per source, in 15 minutes. */
export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  perName: 5,
  perSource: 20,
  windowMs: 15 * 60_000,
  maxTracked: 10_000,
};

/** Failed sign-ins, remembered for a while. */
export class SignInThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #limits: SignInLimits;
  readonly #now: () => number;

  constructor(limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Milliseconds until this name may try again from this source, or 0 when it may now. */
  retryAfterMs(name: string, source: string): number {
    return Math.max(
      this.#wait(`name:${name.toLowerCase()}`, this.#limits.perName),
      this.#wait(`source:${source}`, this.#limits.perSource),
    );
  }

  /** Counts a failed attempt. */
  fail(name: string, source: string): void {
    for (const key of [`name:${name.toLowerCase()}`, `source:${source}`]) {
      const times = this.#recent(key);
      times.push(this.#now());
      this.#failures.delete(key);
      this.#failures.set(key, times);
    }
    while (this.#failures.size > this.#limits.maxTracked) {
      this.#failures.delete(this.#failures.keys().next().value!);
    }
  }

  /** Forgets a name's failures after it signed in. */
  succeed(name: string): void {
    this.#failures.delete(`name:${name.toLowerCase()}`);
  }

  #recent(key: string): number[] {
    const since = this.#now() - this.#limits.windowMs;
    return (this.#failures.get(key) ?? []).filter((at) => at > since);
  }

  #wait(key: string, limit: number): number {
    const times = this.#recent(key);
    if (times.length < limit) return 0;
    return times[times.length - limit] + this.#limits.windowMs - this.#now();
  }
}
