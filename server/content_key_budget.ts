/**
 * How many new content keys each computer may make the server unwrap: a token bucket per
 * computer, full at start, refilled evenly over the window (`--content-key-budget 10/h`: ten at
 * once, then one every six minutes).
 *
 * A client reuses one content key for days (`envelope/content_key_policy.ts`) and an upload costs
 * one file key, so an honest computer needs a handful an hour at most. Every new wrapped key costs
 * the server an RSA private-key operation, so without this budget one registered computer could
 * keep a core busy with fresh wrapped keys.
 *
 * @module
 */

/** A budget: so many new keys per window. */
export interface ContentKeyBudgetRate {
  /** New keys per window, which is also the most taken at once. */
  keys: number;
  /** The window, in milliseconds. */
  windowMs: number;
}

/** The budget when none is configured: 10 new content keys an hour per computer. */
export const DEFAULT_CONTENT_KEY_BUDGET = "10/h";

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Reads a budget written `N/UNIT` (unit `s`, `m`, `h` or `d`).
 *
 * @throws {RangeError} With a message naming the expected form.
 * @example
 * ```ts
 * import { parseContentKeyBudget } from "./content_key_budget.ts";
 * console.log(parseContentKeyBudget("10/h")); // { keys: 10, windowMs: 3600000 }
 * ```
 */
export function parseContentKeyBudget(text: string): ContentKeyBudgetRate {
  const match = /^\s*(\d{1,7})\s*\/\s*([smhd])\s*$/.exec(text);
  const keys = match ? Number(match[1]) : 0;
  if (!match || keys < 1) {
    throw new RangeError(
      `Cannot read content-key budget "${text}": expected new keys per unit, e.g. "10/h" (units s, m, h, d)`,
    );
  }
  return { keys, windowMs: UNIT_MS[match[2]] };
}

/** The outcome of asking for one new key. */
export type BudgetAnswer = { granted: true } | { granted: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-computer token buckets, bounded in number (the least recently used computer is forgotten,
 * which gives it a full budget again: an attacker would need that many registered computers).
 *
 * @example
 * ```ts
 * import { ContentKeyBudget } from "./content_key_budget.ts";
 * const budget = new ContentKeyBudget({ keys: 2, windowMs: 60_000 });
 * budget.take(7, 0);
 * budget.take(7, 0);
 * console.log(budget.take(7, 0)); // { granted: false, retryAfterSeconds: 30 }
 * ```
 */
export class ContentKeyBudget {
  readonly #rate: ContentKeyBudgetRate;
  readonly #maxComputers: number;
  readonly #buckets = new Map<number, Bucket>();

  constructor(rate: ContentKeyBudgetRate, maxComputers = 100_000) {
    this.#rate = rate;
    this.#maxComputers = maxComputers;
  }

  /** Takes one new key from `computerId`'s budget, or says how long until one is available. */
  take(computerId: number, now = Date.now()): BudgetAnswer {
    const { keys, windowMs } = this.#rate;
    const perMs = keys / windowMs;
    const bucket = this.#buckets.get(computerId) ?? { tokens: keys, at: now };
    bucket.tokens = Math.min(keys, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
    bucket.at = now;
    this.#buckets.delete(computerId);
    this.#buckets.set(computerId, bucket); // most recently used last
    if (this.#buckets.size > this.#maxComputers) {
      this.#buckets.delete(this.#buckets.keys().next().value as number);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { granted: true };
    }
    return { granted: false, retryAfterSeconds: Math.ceil((1 - bucket.tokens) / perMs / 1000) };
  }
}
