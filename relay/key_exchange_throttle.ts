/**
 * Slows password guessing at an authenticating relay: every failed key exchange (a wrong
 * password, a used one-time password) takes a token from its source's bucket; an empty bucket
 * refuses that source's next registrations, before any check, until a token grows back. A source
 * is an IPv4 address, or an IPv6 /64 (what one host usually controls).
 *
 * Only failures count: a site that registers thousands of endpoints with the right password
 * through one NAT address is never slowed, and one that ran a script with a wrong password heals
 * itself within minutes of fixing it, where a hard lock-out would shut the whole address out.
 * With the defaults a source gets 10 guesses at once, then one every 10 seconds (360 an hour).
 *
 * A source that many admitted clients share (a NAT, or a relay below that this relay does not
 * trust to say its clients' addresses) gets a budget that grows with them: for each client
 * admitted from it, or reporting through it, another 10 guesses and another one every 10 s, so
 * that one endpoint's bad guesses do not lock out the others behind the same address. The count is
 * of computers this relay admitted, which no guesser can inflate.
 *
 * Pure apart from the clock, which is injectable.
 *
 * @module
 */

/** How the throttle is tuned. */
export interface KeyExchangeThrottleOptions {
  /** Failures a source may make at once (default 10). */
  burst?: number;
  /** Milliseconds for one failure to be forgiven (default 10 s). */
  refillMs?: number;
  /** Sources remembered at most; the least recently failed are forgotten first (default 10,000). */
  maxSources?: number;
  /** Admitted clients remembered with their source at most (default 100,000). */
  maxClients?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Most clients one source's budget scales with. */
export const MAX_CLIENTS_PER_SOURCE = 1_000;

/** Per-source token buckets of failed key exchanges. */
export class KeyExchangeThrottle {
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxSources: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  /** Admitted computer id → the source it last came from; and how many each source has. */
  readonly #clientSources = new Map<number, string>();
  readonly #clientsPerSource = new Map<string, number>();

  constructor(options: KeyExchangeThrottleOptions = {}) {
    this.#burst = options.burst ?? 10;
    this.#refillMs = options.refillMs ?? 10_000;
    this.#maxSources = options.maxSources ?? 10_000;
    this.#maxClients = options.maxClients ?? 100_000;
    this.#now = options.now ?? Date.now;
    if (
      !(this.#burst >= 1 && this.#refillMs > 0 && this.#maxSources >= 1 && this.#maxClients >= 1)
    ) {
      throw new RangeError(
        "A key-exchange throttle needs burst ≥ 1, refillMs > 0, maxSources ≥ 1, maxClients ≥ 1",
      );
    }
  }

  /**
   * Milliseconds until `address` may try again, or 0 when it may now.
   *
   * @example
   * ```ts
   * import { KeyExchangeThrottle } from "./key_exchange_throttle.ts";
   * const throttle = new KeyExchangeThrottle({ burst: 1, refillMs: 1000, now: () => 0 });
   * throttle.failed("192.0.2.7");
   * console.log(throttle.waitMs("192.0.2.7")); // 1000
   * console.log(throttle.waitMs("192.0.2.8")); // 0
   * ```
   */
  waitMs(address: string | null): number {
    const source = sourceOf(address);
    const bucket = this.#current(source);
    if (bucket === null || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) * this.#refillMs / this.#weight(source));
  }

  /** Counts one failed key exchange from `address`. */
  failed(address: string | null): void {
    const source = sourceOf(address);
    const bucket = this.#current(source) ??
      { tokens: this.#burst * this.#weight(source), at: this.#now() };
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.#buckets.delete(source);
    this.#buckets.set(source, bucket);
    this.#bound();
  }

  /**
   * Notes that an admitted computer came from `address` (it registered or reported through it),
   * so that the source's budget grows with the clients behind it.
   *
   * @example
   * ```ts
   * import { KeyExchangeThrottle } from "./key_exchange_throttle.ts";
   * const throttle = new KeyExchangeThrottle({ burst: 1, refillMs: 1000, now: () => 0 });
   * throttle.noteClient("192.0.2.7", 12);
   * throttle.failed("192.0.2.7");
   * console.log(throttle.waitMs("192.0.2.7")); // 0: one more guess for the client behind it
   * ```
   */
  noteClient(address: string | null, computerId: number): void {
    const source = sourceOf(address);
    const before = this.#clientSources.get(computerId);
    if (before === source) return;
    if (before !== undefined) this.#countClient(before, -1);
    this.#clientSources.delete(computerId);
    this.#clientSources.set(computerId, source);
    this.#countClient(source, 1);
    for (const [oldest, oldSource] of this.#clientSources) {
      if (this.#clientSources.size <= this.#maxClients) break;
      this.#clientSources.delete(oldest);
      this.#countClient(oldSource, -1);
    }
  }

  #countClient(source: string, delta: number): void {
    const count = (this.#clientsPerSource.get(source) ?? 0) + delta;
    if (count > 0) this.#clientsPerSource.set(source, count);
    else this.#clientsPerSource.delete(source);
  }

  /** 1 + the admitted clients behind `source` (at most {@linkcode MAX_CLIENTS_PER_SOURCE}). */
  #weight(source: string): number {
    return 1 + Math.min(this.#clientsPerSource.get(source) ?? 0, MAX_CLIENTS_PER_SOURCE);
  }

  /** Sources currently remembered (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  /** The bucket of `source` with its tokens grown back to now, or null when it is full. */
  #current(source: string): Bucket | null {
    const bucket = this.#buckets.get(source);
    if (!bucket) return null;
    const now = this.#now();
    const weight = this.#weight(source);
    const capacity = this.#burst * weight;
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * weight / this.#refillMs);
    bucket.at = now;
    if (bucket.tokens >= capacity) {
      this.#buckets.delete(source);
      return null;
    }
    return bucket;
  }

  #bound(): void {
    // The least recently failed first: the map keeps sources in the order they last failed.
    for (const source of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxSources) return;
      this.#buckets.delete(source);
    }
  }
}

/**
 * The source a remote address counts against: the IPv4 address, or the first four groups (/64)
 * of an IPv6 one; an IPv4-mapped IPv6 address counts as its IPv4 address.
 *
 * @example
 * ```ts
 * import { sourceOf } from "./key_exchange_throttle.ts";
 * console.log(sourceOf("2001:db8:1:2:aaaa::1")); // "2001:db8:1:2::/64"
 * console.log(sourceOf("::ffff:192.0.2.7")); // "192.0.2.7"
 * ```
 */
export function sourceOf(address: string | null): string {
  if (address === null || address === "") return "unknown";
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped) return mapped[1];
  if (!bare.includes(":")) return bare;
  const [head, tail = ""] = bare.split("::", 2);
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");
  const missing = Math.max(0, 8 - headGroups.length - tailGroups.length);
  const groups = bare.includes("::")
    ? [...headGroups, ...Array(missing).fill("0"), ...tailGroups]
    : headGroups;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
