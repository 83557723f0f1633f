/**
 * Delivers the spooled messages to the parent, oldest first, a few at a time.
 *
 * What each answer means for the message:
 * - 2xx: the parent has it; delete it.
 * - 409 `ERR_DUPLICATE_REPORT`: the parent already had it (a resend after a lost acknowledgement);
 *   delete it.
 * - 408, 429: the parent is busy; keep it and retry later.
 * - any other 4xx: the parent will never take it; move it to `rejected/` with the reason and log
 *   once. Never dropped silently, never retried forever.
 * - 5xx, no answer, a timeout: keep it; retry with exponential backoff (500 ms doubling up to 30 s,
 *   with jitter, so that many relays do not return to a recovering parent at the same instant).
 *
 * Logs ids, statuses and counts, never message bodies.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { fetchJson, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { DeliveryBackoff } from "./_delivery_backoff.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { parentBaseUrl } from "./parent_url.ts";
import type { Spool } from "./spool.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";

/** What a parent's answer means for a spooled message. */
export type DeliveryOutcome = "delivered" | "duplicate" | "rejected" | "retry";

/** The error code by which a parent says it already stores a report. */
export const DUPLICATE_REPORT_CODE = "ERR_DUPLICATE_REPORT";

/** Options of a {@linkcode Forwarder}. */
export interface ForwarderOptions {
  spool: Spool;
  /** The parent's base URL (the server or another relay). */
  parentUrl: string | URL;
  log?: Logger;
  /** Most messages in flight at once (default 4). */
  concurrency?: number;
  /** Timeout of one delivery (default 30 s). */
  timeoutMs?: number;
  /** First retry delay after a failure (default 500 ms). */
  minBackoffMs?: number;
  /** Longest retry delay (default 30 s). */
  maxBackoffMs?: number;
  /** Source of jitter in [0, 1) (tests pass a fixed one). */
  random?: () => number;
  /** Where refusals of a sender are remembered, for its next reports. */
  refusals?: UpstreamRefusals;
}

/** Counts since start, for logs and tests. */
export interface ForwarderStats {
  delivered: number;
  duplicates: number;
  rejected: number;
  failures: number;
}

/** Largest answer read from the parent to a report: an error body at most. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Reads what the parent's answer to a report means for it.
 *
 * @example
 * ```ts
 * import { deliveryOutcome } from "./forwarder.ts";
 * const body = { error: { code: "ERR_DUPLICATE_REPORT", message: "Already stored" } };
 * console.log(deliveryOutcome(409, body)); // "duplicate"
 * ```
 */
export function deliveryOutcome(status: number, body: unknown): DeliveryOutcome {
  if (status >= 200 && status < 300) return "delivered";
  if (status === 408 || status === 429) return "retry";
  if (status >= 400 && status < 500) {
    return status === 409 && errorCodeOf(body) === DUPLICATE_REPORT_CODE ? "duplicate" : "rejected";
  }
  return "retry";
}

/**
 * Moves a message the parent refused for good to `rejected/`, with the parent's status, code and
 * message beside it, and says so in the log: kept, never retried, never dropped silently.
 */
export async function rejectForGood(
  spool: Spool,
  log: Logger,
  id: string,
  answer: { status: number; body: unknown },
): Promise<void> {
  const error = (answer.body as { error?: { message?: unknown } } | null)?.error;
  const code = errorCodeOf(answer.body) ?? "none";
  const message = typeof error?.message === "string" ? error.message.slice(0, 500) : "";
  await spool.reject(
    id,
    `parent answered ${answer.status} ${code}${message ? `: ${message}` : ""}`,
  );
  log.warn("parent refused a message for good; moved it to rejected/", {
    id,
    status: answer.status,
    code,
  });
}

/**
 * Sends spooled messages to the parent's reports path until the spool is empty, and again
 * whenever {@linkcode Forwarder.wake} says a message arrived.
 *
 * @example
 * ```ts ignore
 * import { Forwarder } from "./forwarder.ts";
 * import { Spool } from "./spool.ts";
 * const spool = await Spool.open("/var/opt/mle-relay");
 * const forwarder = new Forwarder({ spool, parentUrl: "http://server.example:52311" });
 * forwarder.start();
 * // … spool.put(bytes); forwarder.wake();
 * await forwarder.stop();
 * ```
 */
export class Forwarder {
  readonly #refusals: UpstreamRefusals | undefined;
  readonly #spool: Spool;
  /** Where reports go: the parent's reports path. */
  readonly #reportsUrl: string;
  readonly #log: Logger;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #backoff: DeliveryBackoff;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #stats: ForwarderStats = { delivered: 0, duplicates: 0, rejected: 0, failures: 0 };
  #running = false;

  /** @throws {RangeError} When the parent URL, the concurrency or a delay is unusable. */
  constructor(options: ForwarderOptions) {
    this.#spool = options.spool;
    this.#refusals = options.refusals;
    this.#reportsUrl = `${parentBaseUrl(options.parentUrl)}${API.reports}`;
    this.#log = options.log ?? silentLogger;
    this.#concurrency = options.concurrency ?? 4;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    const minBackoffMs = options.minBackoffMs ?? 500;
    const maxBackoffMs = options.maxBackoffMs ?? 30_000;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError(
        `Cannot use concurrency ${this.#concurrency}: expected a positive integer`,
      );
    }
    if (!(minBackoffMs > 0 && maxBackoffMs >= minBackoffMs)) {
      throw new RangeError("Cannot use backoff: expected 0 < minBackoffMs <= maxBackoffMs");
    }
    this.#backoff = new DeliveryBackoff({
      minMs: minBackoffMs,
      maxMs: maxBackoffMs,
      random: options.random ?? Math.random,
      log: this.#log,
      waiting: () => this.#spool.count(),
      onRetry: () => this.#pump(),
    });
  }

  /** Starts delivering what the spool holds. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#pump();
  }

  /** Says a message was spooled: sends it now unless the parent is being backed off from. */
  wake(): void {
    this.#pump();
  }

  /**
   * Stops sending: nothing new starts, and this waits for the sends in flight, or for `graceMs`
   * at most. A send still running then is abandoned to the process's end: its message stays
   * spooled until the parent's answer removes it, so at worst it is sent again on the next start
   * and the parent answers that it already has it.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#running = false;
    this.#backoff.stop();
    const pending = [...this.#inFlight.values()];
    if (pending.length === 0) return;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<void>((resolve) => graceTimer = setTimeout(resolve, graceMs));
    await Promise.race([Promise.all(pending), graceOver]);
    clearTimeout(graceTimer);
  }

  /** Number of sends in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Whether a failure is being backed off from. */
  get backingOff(): boolean {
    return this.#backoff.backingOff;
  }

  /** Counts since construction. */
  stats(): ForwarderStats {
    return { ...this.#stats };
  }

  #pump(): void {
    if (!this.#running || this.#backoff.backingOff) return;
    while (this.#inFlight.size < this.#concurrency) {
      // The in-flight ids are among the oldest, so this window always holds a free one if any.
      const id = this.#spool.list(this.#concurrency + this.#inFlight.size)
        .find((candidate) => !this.#inFlight.has(candidate));
      if (id === undefined) return;
      const task = this.#deliver(id).finally(() => {
        this.#inFlight.delete(id);
        this.#pump();
      });
      this.#inFlight.set(id, task);
    }
  }

  /** Sends one message and acts on the answer; never throws. */
  async #deliver(id: string): Promise<void> {
    try {
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await this.#spool.read(id);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        this.#log.warn("spooled message vanished; skipping it", { id });
        await this.#spool.remove(id);
        return;
      }
      const answer = await fetchJson(this.#reportsUrl, {
        method: "POST",
        body: bytes,
        // The spool id is the request id upstream: the log line "report spooled" names it beside
        // the sender's request id, so a report is followed from client to server.
        headers: { "content-type": "application/json", "x-request-id": id },
        // A redirect would turn the POST into a GET: count it as a failure to retry.
        redirect: "manual",
        timeoutMs: this.#timeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
      });
      const outcome = deliveryOutcome(answer.status, answer.body);
      switch (outcome) {
        case "delivered":
        case "duplicate":
          await this.#spool.remove(id);
          this.#stats[outcome === "delivered" ? "delivered" : "duplicates"] += 1;
          this.#log.debug(`message ${outcome}`, { id, status: answer.status });
          this.#backoff.answered();
          return;
        case "rejected":
          await rejectForGood(this.#spool, this.#log, id, answer);
          this.#refusals?.noteRefusal(bytes, answer);
          this.#stats.rejected += 1;
          this.#backoff.answered();
          return;
        case "retry":
          this.#failed(`parent answered ${answer.status}`);
          return;
      }
    } catch (error) {
      if (error instanceof ParentUnreachableError) {
        this.#failed(describeUnreachable(error));
      } else {
        this.#log.error("cannot deliver spooled message; keeping it", {
          id,
          error: error instanceof Error ? error.message : String(error),
        });
        this.#failed("local failure");
      }
    }
  }

  /** Counts the failure and backs off, once per streak step. */
  #failed(reason: string): void {
    this.#stats.failures += 1;
    if (this.#running) this.#backoff.failed(reason);
  }
}
