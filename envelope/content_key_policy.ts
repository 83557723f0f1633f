/**
 * How long a sender may reuse one content key.
 *
 * Every message gets a fresh random 96-bit IV. NIST SP 800-38D §8.3 caps random-IV invocations of
 * one key at 2^32 so that the chance of an IV collision stays below 2^-32. We stop far earlier: at
 * 2^20 messages the birthday bound gives a collision chance near 2^40 / 2^97 = 2^-57, and the age
 * limit bounds what one stolen content key exposes. The receiver spends one RSA private-key operation
 * per content key, so reuse is what keeps MLE nearly free at the server.
 *
 * @see {@link https://csrc.nist.gov/pubs/sp/800/38/d/final} SP 800-38D §8.3
 * @module
 */

/** Most messages one content key may seal. */
export const MAX_MESSAGES_PER_CONTENT_KEY = 2 ** 20;
/** Longest a content key may be used, in milliseconds (7 days). */
export const MAX_CONTENT_KEY_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** What a sender remembers of a content key in use. */
export interface ContentKeyUsage {
  /** Recipient key id the CEK is wrapped to. */
  kid: string;
  /** When it was made, in milliseconds since the epoch. */
  createdAt: number;
  /** Messages sealed with it so far. */
  messages: number;
}

/**
 * True when a content key may seal one more message to the recipient `kid` at time `now`.
 *
 * @example
 * ```ts
 * import { mayReuseContentKey } from "./content_key_policy.ts";
 * console.log(mayReuseContentKey({ kid: "a", createdAt: Date.now(), messages: 3 }, "a", Date.now())); // true
 * ```
 */
export function mayReuseContentKey(usage: ContentKeyUsage, kid: string, now: number): boolean {
  return usage.kid === kid && usage.messages < MAX_MESSAGES_PER_CONTENT_KEY &&
    now >= usage.createdAt && now - usage.createdAt < MAX_CONTENT_KEY_AGE_MS;
}
