/**
 * The back-off of a forwarder whose parent fails: a failure streak, and its retry timer. The delay
 * is `protocol/backoff.ts`'s (doubling from a minimum up to a maximum, or the parent's
 * `Retry-After`, each with jitter so that many relays do not return to a recovering parent at the
 * same instant). Nothing is sent while the retry timer is set.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { retryDelayMs } from "../protocol/backoff.ts";

/** The log lines of a {@linkcode DeliveryBackoff}. */
export interface DeliveryBackoffLines {
  /** Logged as a warning at the first failure of a streak. */
  failing: string;
  /** Logged at debug level at each later failure of a streak; nothing when null. */
  stillFailing: string | null;
  /** Logged as information when the parent answers after a failure. */
  recovered: string;
  /** The log field that counts what is kept, such as `waiting` (spooled messages). */
  waitingField: string;
  /** Whether the `recovered` line says how much is kept. */
  recoveredCountsWaiting: boolean;
}

/** The lines of the forwarders of spooled messages. */
const SPOOL_LINES: DeliveryBackoffLines = {
  failing: "cannot deliver to parent; keeping messages",
  stillFailing: "still cannot deliver to parent",
  recovered: "parent answers again; delivering the spool",
  waitingField: "waiting",
  recoveredCountsWaiting: true,
};

/** Options of a {@linkcode DeliveryBackoff}. */
export interface DeliveryBackoffOptions {
  /** First retry delay after a failure, in milliseconds. */
  minMs: number;
  /** Longest retry delay, in milliseconds. */
  maxMs: number;
  /** Source of jitter in [0, 1) (default `Math.random`). */
  random?: () => number;
  log: Logger;
  /** How much is kept for the parent, for the log lines. */
  waiting: () => number;
  /** Called when the retry delay is over. */
  onRetry: () => void;
  /** The log lines (default: those of a spool of messages). */
  lines?: DeliveryBackoffLines;
}

/**
 * Counts a forwarder's failures in a row and sets the retry timer after each.
 *
 * @example
 * ```ts
 * import { DeliveryBackoff } from "./_delivery_backoff.ts";
 * import { silentLogger } from "../cli/log.ts";
 * const backoff = new DeliveryBackoff({
 *   minMs: 500,
 *   maxMs: 30_000,
 *   log: silentLogger,
 *   waiting: () => 3,
 *   onRetry: () => console.log("send again"),
 * });
 * backoff.failed("parent answered 503");
 * console.log(backoff.backingOff); // true
 * backoff.stop();
 * ```
 */
export class DeliveryBackoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #waiting: () => number;
  readonly #onRetry: () => void;
  readonly #lines: DeliveryBackoffLines;
  /** Set while backing off: nothing is sent until it fires. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Failures in a row, for the delay. */
  #streak = 0;

  constructor(options: DeliveryBackoffOptions) {
    this.#minMs = options.minMs;
    this.#maxMs = options.maxMs;
    this.#random = options.random ?? (() => Math.random());
    this.#log = options.log;
    this.#waiting = options.waiting;
    this.#onRetry = options.onRetry;
    this.#lines = options.lines ?? SPOOL_LINES;
  }

  /** Whether a failure is being backed off from. */
  get backingOff(): boolean {
    return this.#retryTimer !== undefined;
  }

  /** Says the parent answered: ends the failure streak. */
  answered(): void {
    if (this.#streak > 0) {
      const lines = this.#lines;
      this.#log.info(
        lines.recovered,
        lines.recoveredCountsWaiting ? { [lines.waitingField]: this.#waiting() } : undefined,
      );
    }
    this.#streak = 0;
  }

  /**
   * Says the parent failed: backs off once per streak step, however many sends were in flight
   * when it failed (nothing while the retry timer is already set).
   *
   * @param retryAfterMs The delay the parent asked for (`Retry-After`): instead of the back-off,
   *   the retry comes no earlier than that, with jitter above it.
   */
  failed(reason: string, retryAfterMs: number | null = null): void {
    if (this.#retryTimer !== undefined) return;
    this.#streak += 1;
    const bounds = { minMs: this.#minMs, maxMs: this.#maxMs };
    const delay = retryDelayMs(this.#streak, bounds, retryAfterMs, this.#random);
    const lines = this.#lines;
    const fields = { reason, [lines.waitingField]: this.#waiting(), retryInMs: delay };
    if (this.#streak === 1) this.#log.warn(lines.failing, fields);
    else if (lines.stillFailing !== null) this.#log.debug(lines.stillFailing, fields);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#onRetry();
    }, delay);
  }

  /** Clears the retry timer; the streak stays. */
  stop(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }
}
