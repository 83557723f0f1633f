/**
 * What a relay answers to `GET /api/v1/key-exchange`: its own salt (authenticating relays) and
 * the salts its parent publishes (the authenticating relays above), so that a client registering
 * here proves its password to each authenticating relay on the way up, every one with its own
 * salt (`protocol/key_exchange.ts`). A plain relay passes its parent's salts on. The parent is
 * asked at most once a minute.
 *
 * @module
 */

import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import {
  type KeyExchangeParameters,
  keyExchangeParameters,
  MAX_KEY_EXCHANGE_SALTS,
  readKeyExchangeParameters,
} from "../protocol/key_exchange.ts";
import { API } from "../protocol/paths.ts";
import { type ParentSource, Upstream } from "./upstream.ts";

/** How long the parent's answer is used before asking again. */
const TTL_MS = 60_000;

/** This relay's and its parent's key-exchange salts. */
export class KeyExchangeSalts {
  readonly #own: string | null;
  readonly #upstream: Upstream;
  readonly #now: () => number;
  #parentSalts: string[] = [];
  #askedAt = -Infinity;

  /**
   * @param ownSalt this relay's salt (authenticating), or null (a plain relay).
   *
   * @example
   * ```ts ignore
   * const salts = new KeyExchangeSalts(passwords.salt, "http://relay1.example:52311");
   * const parameters = await salts.parameters(); // null: nobody on the way authenticates
   * ```
   */
  constructor(ownSalt: string | null, parentUrl: ParentSource, now: () => number = Date.now) {
    this.#own = ownSalt;
    this.#upstream = Upstream.of(parentUrl);
    this.#now = now;
  }

  /** The parameters to publish, or null when no relay on the way up authenticates. */
  async parameters(): Promise<KeyExchangeParameters | null> {
    const above = await this.#fromParent();
    const salts = [...new Set([...(this.#own === null ? [] : [this.#own]), ...above])]
      .slice(0, MAX_KEY_EXCHANGE_SALTS);
    return salts.length === 0 ? null : keyExchangeParameters(salts);
  }

  async #fromParent(): Promise<string[]> {
    if (this.#now() - this.#askedAt < TTL_MS) return this.#parentSalts;
    let answer;
    try {
      answer = await this.#upstream.fetchJson(API.keyExchange, {
        redirect: "manual",
        timeoutMs: 5_000,
        maxBytes: 4 * 1024,
      });
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) throw error;
      return this.#parentSalts; // what the parent said last; asked again next time
    }
    // The server, or an older relay, has none (404); anything unusable counts as none.
    let salts: string[] = [];
    if (answer.status === 200) {
      try {
        salts = readKeyExchangeParameters(answer.body).salts;
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
      }
    }
    this.#parentSalts = salts;
    this.#askedAt = this.#now();
    return salts;
  }
}
