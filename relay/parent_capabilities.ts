/**
 * What a relay's parent says it is (`GET /api/v1/capabilities`), asked at most once a minute.
 * An authenticating relay uses it to decide whether a client's key-exchange proof goes on with the
 * registration: to another authenticating relay, which checks it against its own passwords (so
 * that relays in a chain that share a password admit the client all the way up), but never to the
 * server or a plain relay, which have no use for it. The forwarder uses it to decide whether to
 * send reports in batches (a parent that announces `acceptsReportBatches`) or one by one.
 *
 * @module
 */

import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { type Capabilities, readCapabilities } from "../protocol/capabilities.ts";
import { API } from "../protocol/paths.ts";
import { type ParentSource, Upstream } from "./upstream.ts";

/** How long an answer is used before asking again. */
const TTL_MS = 60_000;

/** The parent's capabilities, cached. */
export class ParentCapabilities {
  readonly #upstream: Upstream;
  readonly #now: () => number;
  #capabilities: Capabilities | null = null;
  #askedAt = -Infinity;
  /** The question under way: callers meanwhile share it. */
  #asking: Promise<Capabilities | null> | null = null;

  constructor(parentUrl: ParentSource, now: () => number = Date.now) {
    this.#upstream = Upstream.of(parentUrl);
    this.#now = now;
  }

  /**
   * Whether the parent is an authenticating relay; false when it says otherwise or cannot be
   * asked (the proof then stops here, as it always may).
   */
  async authenticating(): Promise<boolean> {
    try {
      const capabilities = await this.#ask();
      return capabilities?.role === "relay" && capabilities.authenticating;
    } catch (error) {
      if (error instanceof ParentUnreachableError) return false;
      throw error;
    }
  }

  /**
   * Whether the parent takes report batches; false when it says otherwise or does not answer the
   * question (reports then go one by one, as every parent takes them).
   *
   * @throws {ParentUnreachableError} When no parent could be reached: a report sent now would
   * find it away too.
   */
  async acceptsReportBatches(): Promise<boolean> {
    return (await this.#ask())?.acceptsReportBatches === true;
  }

  /**
   * The parent's answer, asked at most once a minute; null when it answers the question with
   * anything but its capabilities.
   *
   * @throws {ParentUnreachableError} When no parent could be reached.
   */
  async #ask(): Promise<Capabilities | null> {
    if (this.#capabilities !== null && this.#now() - this.#askedAt < TTL_MS) {
      return this.#capabilities;
    }
    this.#asking ??= this.#fetch().finally(() => this.#asking = null);
    return await this.#asking;
  }

  async #fetch(): Promise<Capabilities | null> {
    const answer = await this.#upstream.fetchJson(API.capabilities, {
      redirect: "manual",
      timeoutMs: 5_000,
      maxBytes: 64 * 1024,
    });
    if (answer.status !== 200) return null;
    this.#capabilities = readCapabilities(answer.body);
    this.#askedAt = this.#now();
    return this.#capabilities;
  }
}
