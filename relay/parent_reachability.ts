/**
 * Whether the relay's parent answers: a light probe (`GET /api/v1/capabilities`, bounded in time
 * and size) at start and then every `intervalMs`, whatever the traffic, so that the metrics and
 * `/readyz` say "parent unreachable" even while nothing waits to be forwarded.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { fetchJson, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { API } from "../protocol/paths.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { parentBaseUrl } from "./parent_url.ts";

/** The default time between two probes: 30 s. */
export const DEFAULT_PARENT_PROBE_INTERVAL_MS = 30_000;

/** What the probes saw. */
export interface ParentReachabilityState {
  /** When the parent last answered (any HTTP status below 500), ms since the epoch, or null. */
  lastReachedAt: number | null;
  /** Whether the last probe got an answer. */
  up: boolean;
  /** Why the last probe failed, when it did. */
  lastFailure: string | null;
}

/**
 * Probes the parent.
 *
 * @example
 * ```ts ignore
 * const parent = new ParentReachability({ parentUrl: "http://server:52311", log });
 * parent.start();
 * console.log(parent.state.up);
 * parent.stop();
 * ```
 */
export class ParentReachability {
  readonly #url: string;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #state: ParentReachabilityState = { lastReachedAt: null, up: false, lastFailure: null };

  constructor(
    options: { parentUrl: string | URL; log: Logger; intervalMs?: number; now?: () => number },
  ) {
    this.#url = `${parentBaseUrl(options.parentUrl)}${API.capabilities}`;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? DEFAULT_PARENT_PROBE_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The probes' last findings. */
  get state(): ParentReachabilityState {
    return { ...this.#state };
  }

  /** How long since the parent last answered before it counts as unreachable: three probes. */
  get staleAfterMs(): number {
    return 3 * this.#intervalMs;
  }

  /** Probes now, then every interval. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.probe();
    this.#timer = setInterval(() => this.probe(), this.#intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One probe; never throws. */
  async probe(): Promise<void> {
    try {
      const answer = await fetchJson(this.#url, { maxBytes: 4096, timeoutMs: 10_000 });
      if (answer.status >= 500) throw new Error(`parent answered ${answer.status}`);
      if (!this.#state.up && this.#state.lastFailure !== null) this.#log.info("parent reachable");
      this.#state = { lastReachedAt: this.#now(), up: true, lastFailure: null };
    } catch (error) {
      const reason = error instanceof ParentUnreachableError
        ? describeUnreachable(error)
        : (error as Error).message;
      if (this.#state.up || this.#state.lastFailure === null) {
        this.#log.warn("parent unreachable", { reason });
      }
      this.#state = { ...this.#state, up: false, lastFailure: reason };
    }
  }
}
