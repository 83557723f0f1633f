/**
 * How long a sender waits before it tries its parent again: the one back-off of relays and
 * clients. A failure streak doubles the delay from a minimum to a maximum, with jitter below that
 * ceiling; a parent's `Retry-After` is honoured as a floor, with jitter above it, so that many
 * senders told the same `Retry-After` (a server back from an outage, a full disk freed) do not all
 * return at the same instant. Pure arithmetic: the caller owns the timer.
 *
 * @module
 */

/** The bounds of a doubling back-off, in milliseconds. */
export interface BackoffBounds {
  /** First retry delay after a failure. */
  minMs: number;
  /** Longest retry delay. */
  maxMs: number;
}

/**
 * The most jitter added on top of a `Retry-After`: whatever the parent asked for, a sender returns
 * at most this much later than it said.
 */
export const MAX_RETRY_AFTER_JITTER_MS = 30_000;

/**
 * The least spread of the jitter on top of a `Retry-After`, so that even `Retry-After: 0` (or a
 * date already past) does not send a herd back in the same millisecond.
 */
export const MIN_RETRY_AFTER_JITTER_MS = 1_000;

/**
 * The delay after the `streak`-th failure in a row (1 for the first): a ceiling that doubles from
 * `minMs` up to `maxMs`, and a delay drawn between half of it and all of it.
 *
 * @param random A source in [0, 1); a constant one gives every sender the same delay.
 *
 * @example
 * ```ts
 * import { backoffDelayMs } from "./backoff.ts";
 * console.log(backoffDelayMs(3, { minMs: 500, maxMs: 30_000 }, () => 0.5)); // 1500
 * ```
 */
export function backoffDelayMs(
  streak: number,
  bounds: BackoffBounds,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(bounds.maxMs, bounds.minMs * 2 ** Math.max(0, streak - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * unitDraw(random()));
}

/**
 * The delay after a parent asked for `retryAfterMs` (its `Retry-After`): never less than it, plus
 * a jitter of up to as much again (at least {@linkcode MIN_RETRY_AFTER_JITTER_MS}, at most
 * {@linkcode MAX_RETRY_AFTER_JITTER_MS}). A herd told "15 s" returns spread over 15 to 30 s.
 *
 * @param random A source in [0, 1); a constant 0 gives the `Retry-After` exactly.
 *
 * @example
 * ```ts
 * import { retryAfterDelayMs } from "./backoff.ts";
 * console.log(retryAfterDelayMs(15_000, () => 0.5)); // 22500
 * ```
 */
export function retryAfterDelayMs(
  retryAfterMs: number,
  random: () => number = Math.random,
): number {
  const floor = Math.max(0, retryAfterMs);
  const spread = Math.min(
    MAX_RETRY_AFTER_JITTER_MS,
    Math.max(MIN_RETRY_AFTER_JITTER_MS, floor),
  );
  return Math.round(floor + spread * unitDraw(random()));
}

/**
 * The delay after a failure: the parent's `Retry-After` with jitter above it when it sent one,
 * else the doubling back-off of the streak.
 *
 * @example
 * ```ts
 * import { retryDelayMs } from "./backoff.ts";
 * const bounds = { minMs: 500, maxMs: 30_000 };
 * console.log(retryDelayMs(1, bounds, null, () => 0)); // 250
 * console.log(retryDelayMs(1, bounds, 2_000, () => 0)); // 2000
 * ```
 */
export function retryDelayMs(
  streak: number,
  bounds: BackoffBounds,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  return retryAfterMs === null
    ? backoffDelayMs(streak, bounds, random)
    : retryAfterDelayMs(retryAfterMs, random);
}

/** A random draw kept in [0, 1], whatever the source returns (NaN and infinities: 0). */
export function unitDraw(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
