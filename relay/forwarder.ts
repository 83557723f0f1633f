/**
 * Delivers the spooled messages to the parent, oldest first, a few requests at a time: to a parent
 * that announces report batches (`acceptsReportBatches`: the server, or a relay), many messages
 * per request, untouched, each answered on its own (`protocol/report_batch.ts`); to any other
 * parent, one message per request. Either way, what each message's answer means is read once, in
 * `relay/delivery_outcome.ts`: stored or already had, deleted; refused for good, moved to
 * `rejected/`; anything else, kept and retried with back-off (500 ms doubling up to 30 s, with
 * jitter) through the relay's one delivery loop (`relay/_delivery_loop.ts`).
 *
 * A batch refused whole (no per-message answer) never rejects a message: a busy or failing parent
 * is backed off from, and any other refusal (an older parent without the route, say) sends one by
 * one for a minute.
 *
 * Logs ids, statuses and counts, never message bodies.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { fetchJson, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { MAX_REPORT_BATCH_ANSWER_BYTES, MAX_REPORT_BATCH_BYTES } from "../protocol/limits.ts";
import type { ParentList } from "../protocol/parent_list.ts";
import { API } from "../protocol/paths.ts";
import { newRequestId, REQUEST_ID_HEADER } from "../protocol/request_id.ts";
import {
  batchEntrySize,
  encodeReportBatch,
  readReportBatchAnswer,
  REPORT_BATCH_CONTENT_TYPE,
  reportBatchSize,
} from "../protocol/report_batch.ts";
import { LoopedForwarder } from "./_delivery_loop.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { ParentCapabilities } from "./parent_capabilities.ts";
import { parentBaseUrl } from "./parent_url.ts";
import type { Spool } from "./spool.ts";
import { Upstream } from "./upstream.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";
import { type ForwarderStats, type MessageAnswer, settleMessage } from "./delivery_outcome.ts";

export type { ForwarderStats } from "./delivery_outcome.ts";

/** Options of a {@linkcode Forwarder}. */
export interface ForwarderOptions {
  spool: Spool;
  /** The parent's base URL (the server or another relay). */
  parentUrl: string | URL;
  /**
   * The parents in order (`--parent` repeatable, the masthead's servers last): each send goes to
   * the one to use now, and a failure moves to the next without waiting (`parentUrl` unused).
   */
  parents?: ParentList;
  log?: Logger;
  /** Most requests in flight at once (default {@link DEFAULT_FORWARD_CONCURRENCY}). */
  concurrency?: number;
  /** Most messages in one batch to a parent that takes batches (default 256; 1: never batch). */
  batchMax?: number;
  /** What the parent takes (default: asked of the parents in use, at most once a minute). */
  parentCapabilities?: Pick<ParentCapabilities, "acceptsReportBatches">;
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

/** Largest answer read from the parent to a report: an error body at most. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Messages in one batch by default. */
export const DEFAULT_FORWARD_BATCH_MAX = 256;
/**
 * Report requests in flight at once by default: eight keep a batching server busy while one batch
 * is in its store's commit (four delivered less; the runs are in docs/PERFORMANCE.md).
 */
export const DEFAULT_FORWARD_CONCURRENCY = 8;
/** Messages the next batch waits for while another is in flight (fewer when batches are smaller). */
const FULL_BATCH_WHILE_SENDING = 32;
/** How long a parent that refused a batch whole gets one message per request. */
const ONE_BY_ONE_AFTER_REFUSED_BATCH_MS = 60_000;

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
export class Forwarder extends LoopedForwarder {
  readonly #refusals: UpstreamRefusals | undefined;
  readonly #spool: Spool;
  /** Where reports go: the parent's reports path. */
  readonly #reportsUrl: string;
  /** Where batches go: the parent's report batch path. */
  readonly #batchUrl: string;
  readonly #parents: ParentList | undefined;
  readonly #log: Logger;
  readonly #concurrency: number;
  readonly #batchMax: number;
  readonly #capabilities: Pick<ParentCapabilities, "acceptsReportBatches">;
  readonly #timeoutMs: number;
  /** The messages the requests under way carry. */
  readonly #claimed = new Set<string>();
  readonly #stats: ForwarderStats = { delivered: 0, duplicates: 0, rejected: 0, failures: 0 };
  /** Until when batches are not tried (the parent refused one whole). */
  #oneByOneUntil = 0;
  /** Whether the last request went as a batch (the parent takes them). */
  #batching = false;

  /** @throws {RangeError} When the parent URL, the concurrency, batch size or a delay is unusable. */
  constructor(options: ForwarderOptions) {
    const minBackoffMs = options.minBackoffMs ?? 500;
    const maxBackoffMs = options.maxBackoffMs ?? 30_000;
    if (!(minBackoffMs > 0 && maxBackoffMs >= minBackoffMs)) {
      throw new RangeError("Cannot use backoff: expected 0 < minBackoffMs <= maxBackoffMs");
    }
    super({
      minMs: minBackoffMs,
      maxMs: maxBackoffMs,
      random: options.random ?? Math.random,
      log: options.log ?? silentLogger,
    });
    this.#spool = options.spool;
    this.#refusals = options.refusals;
    const base = parentBaseUrl(options.parentUrl);
    this.#reportsUrl = `${base}${API.reports}`;
    this.#batchUrl = `${base}${API.reportBatch}`;
    this.#parents = options.parents;
    this.#log = options.log ?? silentLogger;
    this.#concurrency = options.concurrency ?? DEFAULT_FORWARD_CONCURRENCY;
    this.#batchMax = options.batchMax ?? DEFAULT_FORWARD_BATCH_MAX;
    this.#capabilities = options.parentCapabilities ??
      new ParentCapabilities(options.parents ? new Upstream(options.parents) : options.parentUrl);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError(
        `Cannot use concurrency ${this.#concurrency}: expected a positive integer`,
      );
    }
    if (!Number.isInteger(this.#batchMax) || this.#batchMax < 1) {
      throw new RangeError(`Cannot use batch size ${this.#batchMax}: expected a positive integer`);
    }
  }

  /** Number of messages in flight. */
  override get inFlight(): number {
    return this.#claimed.size;
  }

  /** Counts since construction. */
  stats(): ForwarderStats {
    return { ...this.#stats };
  }

  /** The spooled messages. */
  protected waiting(): number {
    return this.#spool.count();
  }

  /**
   * Starts requests up to the concurrency while messages wait that none carries. Beside a batch in
   * flight, the next one starts only with {@linkcode FULL_BATCH_WHILE_SENDING} messages waiting
   * (or when the requests in flight end): a request costs the relay and the parent about as much
   * as the reports it carries, so many small batches would deliver fewer reports a second. Alone,
   * a message goes at once.
   */
  protected fill(): void {
    const fullEnough = Math.min(FULL_BATCH_WHILE_SENDING, this.#batchMax);
    while (this.loop.sending < this.#concurrency) {
      const unclaimed = this.#spool.count() - this.#claimed.size;
      if (unclaimed <= 0) return;
      if (this.loop.sending > 0 && this.#batching && unclaimed < fullEnough) return;
      this.loop.run(this.#sendNext());
    }
  }

  /** Sends the oldest messages not in flight, as a batch when the parent takes them; never throws. */
  async #sendNext(): Promise<void> {
    let batches = false;
    try {
      batches = this.#batchMax > 1 && Date.now() >= this.#oneByOneUntil &&
        await this.#capabilities.acceptsReportBatches();
    } catch (error) {
      if (error instanceof ParentUnreachableError) {
        // The question found no parent (each one it tried is marked failing in the list): a
        // report sent now would not find one either.
        this.#failed(describeUnreachable(error));
        return;
      }
      // Cannot tell: one by one, which every parent takes.
    }
    this.#batching = batches;
    if (!this.loop.running || this.loop.backingOff) return;
    const ids = this.#claim(batches ? this.#batchMax : 1);
    if (ids.length === 0) return;
    try {
      if (batches) await this.#deliverBatch(ids);
      else await this.#deliver(ids[0]);
    } finally {
      for (const id of ids) this.#claimed.delete(id);
    }
  }

  /** Takes the oldest messages no request carries, up to `max` and a batch's bytes. */
  #claim(max: number): string[] {
    const ids: string[] = [];
    let bytes = reportBatchSize([]);
    for (const id of this.#spool.list(this.#claimed.size + max)) {
      if (this.#claimed.has(id)) continue;
      const more = batchEntrySize(this.#spool.sizeOf(id));
      if (ids.length > 0 && bytes + more > MAX_REPORT_BATCH_BYTES) break;
      ids.push(id);
      bytes += more;
      this.#claimed.add(id);
      if (ids.length === max) break;
    }
    return ids;
  }

  /** A spooled message's bytes, or null when it vanished (then it is forgotten). */
  async #read(id: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const bytes = await this.#spool.readWaiting(id);
    if (bytes === null) this.#log.warn("spooled message vanished; skipping it", { id });
    return bytes;
  }

  /** Sends one message and acts on the answer; never throws. */
  async #deliver(id: string): Promise<void> {
    const parent = this.#parents?.current(Date.now());
    try {
      const bytes = await this.#read(id);
      if (bytes === null) return;
      const answer = await fetchJson(parent ? `${parent}${API.reports}` : this.#reportsUrl, {
        method: "POST",
        body: bytes,
        // The spool id is the request id upstream: the log line "report spooled" names it beside
        // the sender's request id, so a report is followed from client to server.
        headers: { "content-type": "application/json", [REQUEST_ID_HEADER]: id },
        // A redirect would turn the POST into a GET: count it as a failure to retry.
        redirect: "manual",
        timeoutMs: this.#timeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
      });
      const outcome = await this.#settle(id, bytes, answer);
      if (outcome.kind === "retry") {
        this.#failed(outcome.reason, parent);
      } else {
        this.#answered(parent);
      }
    } catch (error) {
      this.#sendFailed(error, [id], parent);
    }
  }

  /** Sends messages in one batch and acts on each one's answer; never throws. */
  async #deliverBatch(claimed: string[]): Promise<void> {
    const parent = this.#parents?.current(Date.now());
    try {
      const ids: string[] = [];
      const messages: Uint8Array<ArrayBuffer>[] = [];
      for (const id of claimed) {
        const bytes = await this.#read(id);
        if (bytes === null) continue;
        ids.push(id);
        messages.push(bytes);
      }
      if (ids.length === 0) return;
      // One request id for the batch; the log line maps it to the spool ids it carries.
      const requestId = newRequestId();
      this.#log.debug("reports forwarded in a batch", { requestId, ids: ids.join(",") });
      const answer = await fetchJson(parent ? `${parent}${API.reportBatch}` : this.#batchUrl, {
        method: "POST",
        body: encodeReportBatch(messages),
        headers: { "content-type": REPORT_BATCH_CONTENT_TYPE, [REQUEST_ID_HEADER]: requestId },
        redirect: "manual",
        timeoutMs: this.#timeoutMs,
        maxBytes: MAX_REPORT_BATCH_ANSWER_BYTES,
      });
      if (answer.status !== 200) {
        this.#batchRefused(answer.status, errorCodeOf(answer.body), parent);
        return;
      }
      let results;
      try {
        results = readReportBatchAnswer(answer.body, ids.length);
      } catch (error) {
        this.#log.warn("parent answered a batch unreadably; keeping its messages", {
          error: (error as Error).message,
        });
        this.#failed("unreadable answer to a batch", parent);
        return;
      }
      // All at once: the spool writes the done ids of one segment that settle together in one
      // write, where one after another would take a write each.
      const outcomes = await Promise.all(
        ids.map((id, i) => this.#settle(id, messages[i], results[i])),
      );
      const retries = outcomes.filter((outcome) => outcome.kind === "retry").length;
      if (retries > 0) {
        this.#failed(`parent asked to retry ${retries} of ${ids.length} reports`, parent);
      } else {
        this.#answered(parent);
      }
    } catch (error) {
      this.#sendFailed(error, claimed, parent);
    }
  }

  /**
   * A batch the parent refused whole: nothing is rejected for it. Busy or failing: back off. Any
   * other refusal (no such route, a body it will not read): one by one for a while.
   */
  #batchRefused(status: number, code: string | null, parent: string | undefined): void {
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      this.#oneByOneUntil = Date.now() + ONE_BY_ONE_AFTER_REFUSED_BATCH_MS;
      this.#log.warn("parent refused a report batch; sending one by one for a minute", {
        status,
        code: code ?? "none",
      });
      return;
    }
    this.#failed(`parent answered ${status} to a batch`, parent);
  }

  /** Acts on one message's answer (alone or in a batch); says what it meant. */
  #settle(id: string, bytes: Uint8Array, answer: MessageAnswer) {
    const target = { spool: this.#spool, log: this.#log, stats: this.#stats };
    return settleMessage({ ...target, refusals: this.#refusals }, id, bytes, answer);
  }

  /** The parent answered (whatever it said of each message): it is reachable. */
  #answered(parent: string | undefined): void {
    if (parent !== undefined) this.#parents!.answered(parent);
    this.loop.answered();
  }

  #sendFailed(error: unknown, ids: string[], parent: string | undefined): void {
    if (error instanceof ParentUnreachableError) {
      this.#failed(describeUnreachable(error), parent);
      return;
    }
    this.#log.error("cannot deliver spooled messages; keeping them", {
      ids: ids.length === 1 ? ids[0] : `${ids.length} messages from ${ids[0]}`,
      error: error instanceof Error ? error.message : String(error),
    });
    this.#failed("local failure");
  }

  /**
   * Counts the failure and backs off, once per streak step; with several parents, the next one
   * is tried at once instead while there is one not in its own back-off.
   */
  #failed(reason: string, parent?: string): void {
    this.#stats.failures += 1;
    if (parent !== undefined) {
      const now = Date.now();
      this.#parents!.failed(parent, now, reason);
      const next = this.#parents!.current(now);
      if (next !== parent) {
        this.#log.warn("parent failing; delivering to the next one", { parent, next, reason });
        return;
      }
    }
    this.loop.failed(reason);
  }
}
