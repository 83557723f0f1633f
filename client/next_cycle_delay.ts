/**
 * When `mle-client run` tries again: after a cycle its parent answered (delivered, held by
 * policy, refused), the interval, less a small jitter so that agents started together do not stay
 * in step; after a cycle no parent took (unreachable, or busy: 5xx, 429), the doubling back-off
 * of the failure streak (`protocol/backoff.ts`, from {@linkcode FIRST_RETRY_MS}, never beyond the
 * interval), and never earlier than the parent's `Retry-After` (with jitter above it), even when
 * that is beyond the interval. Pure arithmetic: the service loop owns the timer.
 *
 * @module
 */

import { backoffDelayMs, retryAfterDelayMs } from "../protocol/backoff.ts";

/** The first retry after a cycle no parent took (less when the interval is shorter). */
export const FIRST_RETRY_MS = 5_000;
/** The most the interval is shortened by, as a share of it. */
export const INTERVAL_JITTER = 0.1;

/** What the last cycle left the loop to decide with. */
export interface CycleEnd {
  /** `--interval`, in milliseconds. */
  intervalMs: number;
  /** Whether no parent took the reports (unreachable or busy). */
  parentsFailed: boolean;
  /** Cycles in a row no parent took, this one included (0 after one a parent answered). */
  failureStreak: number;
  /** The longest `Retry-After` a parent sent in the cycle, in milliseconds, or null. */
  retryAfterMs: number | null;
}

/** How long until the next cycle, and why, as `mle-client status` and the run log say it. */
export interface CycleDelay {
  ms: number;
  why: string;
}

/**
 * The wait before the next cycle.
 *
 * @param random A source in [0, 1); a constant one gives every agent the same delay.
 *
 * @example
 * ```ts
 * import { nextCycleDelay } from "./next_cycle_delay.ts";
 * const end = { intervalMs: 900_000, parentsFailed: true, failureStreak: 1, retryAfterMs: 10_000 };
 * console.log(nextCycleDelay(end, () => 0).ms); // 10000
 * ```
 */
export function nextCycleDelay(end: CycleEnd, random: () => number = Math.random): CycleDelay {
  const { intervalMs } = end;
  if (!end.parentsFailed) {
    const ms = Math.round(intervalMs - intervalMs * INTERVAL_JITTER * unit(random()));
    return { ms, why: "the interval" };
  }
  const bounds = { minMs: Math.min(FIRST_RETRY_MS, intervalMs), maxMs: intervalMs };
  const backoff = backoffDelayMs(Math.max(1, end.failureStreak), bounds, random);
  const streak = `failure ${end.failureStreak} in a row`;
  if (end.retryAfterMs === null) {
    return { ms: backoff, why: `no parent took the reports (${streak})` };
  }
  const asked = retryAfterDelayMs(end.retryAfterMs, random);
  return {
    ms: Math.max(backoff, asked),
    why: `parent busy, Retry-After ${Math.round(end.retryAfterMs / 1000)} s (${streak})`,
  };
}

function unit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
