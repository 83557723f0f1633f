/**
 * When `mle-client run` starts its next cycle, and why: the one decision of the service's timing.
 *
 * A cycle whose parents failed (none answered, or each answered busy: 5xx, 429) is tried again
 * after the doubling, jittered back-off of `protocol/backoff.ts` (from {@linkcode MIN_RETRY_MS},
 * capped at the interval; the streak is the caller's, kept across cycles), never earlier than a
 * busy parent's `Retry-After` (with the jitter above it that `retryAfterDelayMs` adds) and never
 * later than the interval, unless the `Retry-After` itself is longer: the parent's word wins over
 * a short interval, so a busy server is not hammered by agents set to report every second. Any
 * other cycle (delivered, held by policy, refused) waits the interval less a jitter of up to
 * {@linkcode INTERVAL_JITTER} of it, so that agents started together (a fleet booted at once) drift
 * apart rather than reporting in step. Pure: the caller owns the timer and the clock.
 *
 * @module
 */

import { backoffDelayMs, retryAfterDelayMs, unitDraw } from "../protocol/backoff.ts";

/** The first retry after a failed cycle (half of it to all of it, with jitter), in milliseconds. */
export const MIN_RETRY_MS = 5_000;

/** The most the interval is shortened by, as a fraction of it, after a cycle that did not fail. */
export const INTERVAL_JITTER = 0.1;

/** How a cycle ended, as far as its timing goes (a `CycleResult` of `client/agent.ts` is one). */
export interface CycleEnd {
  /** "unreachable": every parent failed (no answer, or busy); anything else waits the interval. */
  outcome: "delivered" | "queued" | "unreachable" | "failed";
  /** The longest `Retry-After` a busy parent asked for, in milliseconds, else null. */
  retryAfterMs?: number | null;
}

/** When the next cycle comes and why. */
export interface NextCycle {
  /** Milliseconds from the end of this cycle. */
  delayMs: number;
  /** Cycles in a row whose parents failed, this one included: 0 after any other cycle. */
  failureStreak: number;
  /** Why, in the operator's words (`mle-client status` and the run log). */
  reason: string;
}

/**
 * The delay before the next cycle after one that ended as `end`, given the failed cycles in a row
 * before it and the `--interval` in milliseconds.
 *
 * @param random A source in [0, 1); a constant one gives every agent the same delay.
 *
 * @example
 * ```ts
 * import { nextCycleDelay } from "./next_cycle_delay.ts";
 * const busy = { outcome: "unreachable" as const, retryAfterMs: 10_000 };
 * console.log(nextCycleDelay(busy, 0, 900_000, () => 0).delayMs); // 10000
 * console.log(nextCycleDelay({ outcome: "delivered" }, 3, 900_000, () => 0).delayMs); // 900000
 * ```
 */
export function nextCycleDelay(
  end: CycleEnd,
  failureStreak: number,
  intervalMs: number,
  random: () => number = Math.random,
): NextCycle {
  const interval = `the --interval of ${seconds(intervalMs)}`;
  if (end.outcome !== "unreachable") {
    return {
      delayMs: Math.round(intervalMs * (1 - INTERVAL_JITTER * unitDraw(random()))),
      failureStreak: 0,
      reason: `${AFTER[end.outcome]}; ${interval}, less up to ${INTERVAL_JITTER * 100} % jitter`,
    };
  }
  const streak = Math.max(0, failureStreak) + 1;
  const bounds = { minMs: Math.min(MIN_RETRY_MS, intervalMs), maxMs: intervalMs };
  const backoffMs = backoffDelayMs(streak, bounds, random);
  const failed = `${streak} failed cycle${streak === 1 ? "" : "s"} in a row`;
  const retryAfterMs = end.retryAfterMs ?? null;
  if (retryAfterMs === null) {
    return {
      delayMs: backoffMs,
      failureStreak: streak,
      reason: `no parent answered (${failed}); back-off, at most ${interval}`,
    };
  }
  // The jitter above the Retry-After stops at the interval; the Retry-After itself never does.
  const honouredMs = Math.min(
    retryAfterDelayMs(retryAfterMs, random),
    Math.max(intervalMs, retryAfterMs),
  );
  return {
    delayMs: Math.max(backoffMs, honouredMs),
    failureStreak: streak,
    reason: `parent busy, Retry-After ${seconds(retryAfterMs)} (${failed}); back-off, ` +
      `at most ${interval}`,
  };
}

/**
 * Whether the service makes a new report before its next cycle: once per interval (less its
 * jitter). A retry after a failed cycle only sends what is queued, so an outage does not fill the
 * queue with a report per retry.
 *
 * @example
 * ```ts
 * import { isReportDue } from "./next_cycle_delay.ts";
 * console.log(isReportDue(5_000, 3_600_000)); // false: a retry
 * console.log(isReportDue(3_500_000, 3_600_000)); // true
 * ```
 */
export function isReportDue(sinceLastReportMs: number, intervalMs: number): boolean {
  return sinceLastReportMs >= intervalMs * (1 - INTERVAL_JITTER);
}

/** What a cycle that did not fail did, for the reason. */
const AFTER: Record<Exclude<CycleEnd["outcome"], "unreachable">, string> = {
  delivered: "delivered",
  queued: "reports held (encryption not possible now)",
  failed: "the cycle failed (status: last failure)",
};

/** Milliseconds as whole seconds for the operator ("12 s"). */
function seconds(ms: number): string {
  return `${Math.ceil(ms / 1000)} s`;
}
