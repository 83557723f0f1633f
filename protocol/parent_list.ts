/**
 * The parents a client or relay reports to, in order, and which one to use now: the first that
 * answers, the next one after failures (with a jittered back-off per parent), and the first again
 * once its back-off is over and it answers. Pure: the caller passes the time and keeps the state
 * (the client in `state.json`, a relay in memory).
 *
 * The order is the site's (`__RelayServer1`, `__RelayServer2`), then the operator's (`--parent`,
 * repeatable), then the masthead's server URLs as the last resort ({@linkcode orderParents}).
 * `_BESClient_RelaySelect_ResistFailureIntervalSeconds` is how long a failing parent in use is kept
 * before the next is tried: short outages (a restart) then do not move a whole fleet.
 *
 * @module
 */

/** What is known of a parent that failed, until it answers again. */
export interface ParentHealth {
  /** When its current streak of failures began (ms since the epoch). */
  failingSince: number;
  /** Failures in the streak. */
  failures: number;
  /** Not tried again before this time (ms since the epoch), unless it is the only one. */
  retryAt: number;
  /** The last failure, for `client status` (never a report body: the caller's words). */
  lastError: string;
}

/** The state a {@linkcode ParentList} keeps between attempts (JSON). */
export interface ParentListState {
  /** The parent that answered last, or null before any did. */
  inUse: string | null;
  /** Failing parents by URL. */
  health: Record<string, ParentHealth>;
}

/** Options of a {@linkcode ParentList}. */
export interface ParentListOptions {
  /** The parents in order of preference (see {@linkcode orderParents}); at least one. */
  parents: readonly string[];
  /** How long a failing parent in use is kept before the next is tried (default 0). */
  resistFailureMs?: number;
  /** First back-off after a failure (default 1 s); it doubles per failure. */
  minRetryMs?: number;
  /** Longest back-off (default 60 s). */
  maxRetryMs?: number;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** The state kept from before (parents no longer listed are forgotten). */
  state?: ParentListState;
}

/** The setting names of the parents the site chose, in order. */
export const RELAY_SERVER_SETTINGS = ["__RelayServer1", "__RelayServer2"] as const;

/** The setting: seconds a failing parent in use is kept before switching. */
export const RESIST_FAILURE_SETTING = "_BESClient_RelaySelect_ResistFailureIntervalSeconds";

/** A parent URL in the one form lists compare: no trailing slashes. */
export function normalParentUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

/**
 * Joins lists of parents in order of preference, dropping empty entries and repeats.
 *
 * @example
 * ```ts
 * import { orderParents } from "./parent_list.ts";
 * const order = orderParents(["http://b:1"], ["http://a:1/", "http://b:1"], ["http://s:1"]);
 * console.log(order); // ["http://b:1", "http://a:1", "http://s:1"]
 * ```
 */
export function orderParents(...lists: readonly (readonly string[])[]): string[] {
  const seen = new Set<string>();
  for (const list of lists) {
    for (const url of list) {
      const normal = normalParentUrl(url);
      if (normal !== "") seen.add(normal);
    }
  }
  return [...seen];
}

/**
 * Chooses among ordered parents.
 *
 * @example
 * ```ts
 * import { ParentList } from "./parent_list.ts";
 * const parents = new ParentList({ parents: ["http://a:1", "http://b:1"], random: () => 0 });
 * parents.failed("http://a:1", 0, "connection refused");
 * console.log(parents.plan(10)); // ["http://b:1", "http://a:1"]: a is in its back-off
 * parents.answered("http://b:1");
 * console.log(parents.plan(60_000)[0]); // "http://a:1": back to the first
 * ```
 */
export class ParentList {
  readonly #parents: readonly string[];
  readonly #resistMs: number;
  readonly #minRetryMs: number;
  readonly #maxRetryMs: number;
  readonly #random: () => number;
  readonly #state: ParentListState;

  /** @throws {RangeError} Without a parent, or with a negative interval. */
  constructor(options: ParentListOptions) {
    this.#parents = orderParents(options.parents);
    if (this.#parents.length === 0) throw new RangeError("Cannot choose a parent: none is given");
    this.#resistMs = options.resistFailureMs ?? 0;
    this.#minRetryMs = options.minRetryMs ?? 1_000;
    this.#maxRetryMs = options.maxRetryMs ?? 60_000;
    if (!(this.#resistMs >= 0 && this.#minRetryMs > 0 && this.#maxRetryMs >= this.#minRetryMs)) {
      throw new RangeError("Cannot use parent intervals: expected 0 <= resist, 0 < min <= max");
    }
    this.#random = options.random ?? Math.random;
    const health: Record<string, ParentHealth> = {};
    for (const [url, known] of Object.entries(options.state?.health ?? {})) {
      if (this.#parents.includes(url)) health[url] = { ...known };
    }
    const inUse = options.state?.inUse ?? null;
    this.#state = { inUse: inUse !== null && this.#parents.includes(inUse) ? inUse : null, health };
  }

  /** The parents, in order of preference. */
  get parents(): readonly string[] {
    return this.#parents;
  }

  /** The state to keep for the next attempt (a copy). */
  get state(): ParentListState {
    return structuredClone(this.#state);
  }

  /** The parent in use: the last one that answered, else the first. */
  get inUse(): string {
    return this.#parents[this.#inUseIndex()];
  }

  /** The parent to use now: the first of {@linkcode ParentList.plan}. */
  current(now: number): string {
    return this.plan(now)[0];
  }

  /**
   * The parents to try now, in order, until one answers: earlier parents whose back-off is over
   * (the way back to the first), the one in use, and, once it failed for longer than the resist
   * interval, the later ones whose back-off is over. Never empty.
   */
  plan(now: number): string[] {
    const inUseIndex = this.#inUseIndex();
    const due = (url: string) => (this.#state.health[url]?.retryAt ?? 0) <= now;
    const inUse = this.#parents[inUseIndex];
    const earlier = this.#parents.slice(0, inUseIndex).filter(due);
    const failing = this.#state.health[inUse];
    if (failing === undefined || now - failing.failingSince < this.#resistMs) {
      return [...earlier, inUse];
    }
    const later = this.#parents.slice(inUseIndex + 1).filter(due);
    const plan = due(inUse) ? [...earlier, inUse, ...later] : [...earlier, ...later, inUse];
    // Everything in back-off: the one in use, then the rest in order (something must be tried).
    return plan.length > 1 ? plan : [...plan, ...this.#parents.filter((url) => url !== inUse)];
  }

  /** Records a failure of `url` (no answer, 5xx, 429) and sets its jittered back-off. */
  failed(url: string, now: number, reason: string): void {
    const key = normalParentUrl(url);
    if (!this.#parents.includes(key)) return;
    const known = this.#state.health[key];
    const failures = (known?.failures ?? 0) + 1;
    const delay = Math.min(this.#maxRetryMs, this.#minRetryMs * 2 ** Math.min(failures - 1, 30));
    this.#state.health[key] = {
      failingSince: known?.failingSince ?? now,
      failures,
      // Half fixed, half random: many senders do not come back to a parent at the same instant.
      retryAt: now + Math.round(delay * (0.5 + this.#random() / 2)),
      lastError: reason.slice(0, 300),
    };
  }

  /** Records that `url` answered: its failures are forgotten and it is the one in use. */
  answered(url: string): void {
    const key = normalParentUrl(url);
    if (!this.#parents.includes(key)) return;
    delete this.#state.health[key];
    this.#state.inUse = key;
  }

  /** Why the parent in use is the one in use, for `client status` and logs. */
  why(now: number): string {
    const inUseIndex = this.#inUseIndex();
    const inUse = this.#parents[inUseIndex];
    const failing = this.#state.health[inUse];
    const position = `parent ${inUseIndex + 1} of ${this.#parents.length}`;
    if (failing !== undefined) {
      const since = new Date(failing.failingSince).toISOString();
      const resisting = now - failing.failingSince < this.#resistMs;
      return `${position}, failing since ${since} (${failing.lastError})` +
        (resisting ? "; kept for the resist interval" : "; trying the others");
    }
    if (inUseIndex === 0) return `${position}: the first`;
    const reasons = this.#parents.slice(0, inUseIndex).map((url) => {
      const health = this.#state.health[url];
      return health
        ? `${url} failing since ${new Date(health.failingSince).toISOString()} ` +
          `(${health.lastError}), next try ${new Date(health.retryAt).toISOString()}`
        : `${url} not tried yet`;
    });
    return `${position}, because ${reasons.join("; ")}`;
  }

  #inUseIndex(): number {
    const index = this.#state.inUse === null ? -1 : this.#parents.indexOf(this.#state.inUse);
    return index < 0 ? 0 : index;
  }
}
