/**
 * Every request a relay makes to its parents, over the one ordered list (`protocol/parent_list.ts`)
 * its report forwarder also uses: documents, registrations, key exchanges, computers' keys,
 * uploads. A request goes to the parent in use; a parent that does not answer, or answers 5xx or
 * 429, is marked failing (its jittered back-off) and the next one in the plan is asked at once;
 * the first parent is asked again as soon as its back-off is over, and used again once it answers.
 * So whatever goes wrong with one parent, the relay's upstream traffic moves together, and one
 * failure seen by any caller spares the others a timeout.
 *
 * @module
 */

import { fetchJson, type ParentAnswer, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { ParentList } from "../protocol/parent_list.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { parentBaseUrl } from "./parent_url.ts";

/** The options of one upstream request: those of `fetchJson`. */
export type UpstreamRequest = RequestInit & { timeoutMs?: number; maxBytes: number };

/** An answer, and which parent gave it. */
export interface UpstreamAnswer extends ParentAnswer {
  /** The parent's base URL. */
  parent: string;
}

/** Where a component of the relay sends its requests: a parent URL (alone), or the upstream. */
export type ParentSource = string | URL | Upstream;

/**
 * The relay's parents, for every request it makes upstream.
 *
 * @example
 * ```ts ignore
 * import { Upstream } from "./upstream.ts";
 * const upstream = Upstream.of("http://server.example:52311");
 * const answer = await upstream.fetchJson("/api/v1/masthead", { maxBytes: 65536 });
 * console.log(answer.parent, answer.status);
 * ```
 */
export class Upstream {
  /** The ordered parents and what is known of them (shared with the report forwarder). */
  readonly parents: ParentList;
  readonly #now: () => number;

  constructor(parents: ParentList, now: () => number = Date.now) {
    this.parents = parents;
    this.#now = now;
  }

  /**
   * The upstream of a source: itself, or a single parent (for components built alone, in tests).
   *
   * @throws {RangeError} For a URL that is not http(s) without query or credentials.
   */
  static of(source: ParentSource): Upstream {
    if (source instanceof Upstream) return source;
    return new Upstream(new ParentList({ parents: [parentBaseUrl(source)] }));
  }

  /** The parent in use now: the first of the plan. */
  get current(): string {
    return this.parents.current(this.#now());
  }

  /**
   * Sends a JSON request to the parents in plan order until one answers below 500 (and not 429).
   *
   * @param pathAndQuery Appended to the parent's base URL (`/api/v1/…`).
   * @returns The first usable answer; when every parent failed, the last 5xx/429 answer if any.
   * @throws {ParentUnreachableError} When no parent answered at all (the last one's error).
   */
  async fetchJson(pathAndQuery: string, init: UpstreamRequest): Promise<UpstreamAnswer> {
    const answer = await this.request(pathAndQuery, (url) => fetchJson(url, init), init.signal);
    return answer;
  }

  /**
   * Sends a request with `send` (given the full URL) to the parents in plan order until one
   * answers below 500 (and not 429), recording each failure and each answer in the list. The
   * body must be re-sendable (bytes or text, not a stream).
   *
   * @throws {ParentUnreachableError} When no parent answered at all (the last one's error).
   */
  async request<A extends { status: number }>(
    pathAndQuery: string,
    send: (url: string) => Promise<A>,
    signal?: AbortSignal | null,
  ): Promise<A & { parent: string }> {
    const tried = new Set<string>();
    let lastAnswer: (A & { parent: string }) | null = null;
    let lastError: ParentUnreachableError | null = null;
    // Planned again after each failure: a failure brings the next parents in.
    for (;;) {
      const parent = this.parents.plan(this.#now()).find((url) => !tried.has(url));
      if (parent === undefined || signal?.aborted) break;
      tried.add(parent);
      try {
        const answer = await send(`${parent}${pathAndQuery}`);
        if (answer.status >= 500 || answer.status === 429) {
          this.parents.failed(parent, this.#now(), `answered ${answer.status}`);
          lastAnswer = { ...answer, parent };
          continue;
        }
        this.parents.answered(parent);
        return { ...answer, parent };
      } catch (error) {
        if (!(error instanceof ParentUnreachableError)) throw error;
        this.parents.failed(parent, this.#now(), describeUnreachable(error));
        lastError = error;
      }
    }
    if (lastAnswer !== null) return lastAnswer;
    throw lastError ?? new ParentUnreachableError(this.current);
  }
}
