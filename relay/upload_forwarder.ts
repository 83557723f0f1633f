/**
 * Delivers uploads to the parent, exactly the bytes received (ciphertext stays ciphertext), in two
 * ways:
 *
 * - Cut-through ({@linkcode UploadForwarder.forwardNow}): the relay's app hands over a chunk it
 *   has just read, and it goes straight on when the parent can take it now (the upload's manifest
 *   delivered, the parent answered recently and is not being backed off from, the chunk not
 *   already waiting in the buffer). Only a chunk the parent took is acknowledged this way; on any
 *   other outcome the app stores it in the buffer, and the pump below deals with it.
 * - The pump: each buffered upload's manifest first, then its chunks from the buffer folder, a
 *   few requests in flight, run by the relay's one delivery loop (`relay/_delivery_loop.ts`).
 *
 * Both send a chunk the same way and read the parent's answer the same way
 * ({@linkcode classifyChunkAnswer}). What each answer means to the pump:
 * - 2xx: the parent has it; delete the chunk (an answer saying the file is complete marks the
 *   upload complete).
 * - 404 `ERR_UNKNOWN_UPLOAD`: the parent lost the upload (a new server, a wiped relay): post the
 *   manifest again, then the chunk.
 * - 408, 429, 503, 5xx, no answer: keep everything; retry after `Retry-After` or a back-off
 *   (500 ms doubling to 30 s, with jitter). A cut-through chunk that meets one starts the same
 *   back-off, so that the chunks after it go to the buffer while the parent is away.
 * - a chunk that does not open at the server (`ERR_DECRYPTION_FAILED`, `ERR_SIGNATURE_INVALID`,
 *   `ERR_CHUNK_INVALID`): that chunk is bad (damaged or forged before it reached this relay):
 *   delete it; the client sees it missing in the status and sends it again.
 * - any other 4xx: the upload is refused for good (quota, revoked computer, failed hash): record
 *   the refusal, which clients then receive, and delete its chunks.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { ChunkConnections } from "../protocol/chunk_connections.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import type { UploadStatus } from "../protocol/upload.ts";
import { readUploadStatus } from "../protocol/upload_status.ts";
import { releaseBytes } from "../protocol/release_bytes.ts";
import { fetchUploadAnswer, type UploadAnswer } from "../protocol/upload_fetch.ts";
import { LoopedForwarder } from "./_delivery_loop.ts";
import { type ChunkVerdict, classifyChunkAnswer, isRetryable } from "./chunk_verdict.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { type ParentSource, Upstream } from "./upstream.ts";
import type { BufferedUpload, UploadBuffer } from "./upload_buffer.ts";

/** Options of an {@linkcode UploadForwarder}. */
export interface UploadForwarderOptions {
  buffer: UploadBuffer;
  parentUrl: ParentSource;
  log?: Logger;
  /** Requests in flight at once (default {@link DEFAULT_UPLOAD_CONCURRENCY}). */
  concurrency?: number;
  /** Timeout of one request (default 60 s). */
  timeoutMs?: number;
  /** Timeout of a cut-through chunk, after which the buffer takes it (default 20 s). */
  cutThroughTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** How a manifest delivery ended. */
export type ManifestDelivery =
  /** The parent took it; its status of the upload, when readable. */
  | { kind: "delivered"; status: UploadStatus | null }
  /** The parent refused the upload for good (recorded in the buffer). */
  | { kind: "refused" }
  /** No usable answer now: backing off, the pump posts it again. */
  | { kind: "retry" };

/** How a cut-through ended: the parent took the chunk (its answer), or the buffer must keep it. */
export type ChunkForwarding =
  | { kind: "taken"; body: unknown }
  | { kind: "not-taken" };

const MAX_ANSWER_BYTES = 64 * 1024;
/**
 * Chunk requests beyond `concurrency` start while the chunk bytes in flight stay within
 * {@linkcode EXTRA_IN_FLIGHT_BYTES}, up to {@linkcode MAX_CHUNKS_IN_FLIGHT}: small chunks (the
 * default 128 KiB) get a deeper pipeline, which keeps client, relay and server busy (a 384 MiB
 * upload on the 2-core test machine: 3.5 s against 4.1 s with 4 in flight, the same CPU), while
 * large ones stay at `concurrency`, so the parent's memory does not grow with the chunk size.
 */
const EXTRA_IN_FLIGHT_BYTES = 1024 * 1024;
const MAX_CHUNKS_IN_FLIGHT = 8;
/** Chunk requests in flight at once by default, whatever their size. */
export const DEFAULT_UPLOAD_CONCURRENCY = 4;
/**
 * A chunk goes straight on only if the parent's last word was an answer, no older than this: a
 * parent that has been silent for a while is tried by the pump first, whose request no client
 * waits on.
 */
const RECENT_ANSWER_MS = 30_000;
/**
 * How long a cut-through chunk waits for the parent's answer by default before the buffer takes
 * it: well within the 60 s a client waits for the relay, and long enough for a 4 MiB chunk on a
 * slow link.
 */
const CUT_THROUGH_TIMEOUT_MS = 20_000;

const OCTETS = "application/octet-stream";

/** Delivers the upload buffer to the parent. */
export class UploadForwarder extends LoopedForwarder {
  readonly #buffer: UploadBuffer;
  readonly #upstream: Upstream;
  /** Kept connections for chunks to the first parent (plain http); null: `fetch`. */
  readonly #chunks: ChunkConnections | null;
  readonly #chunksParent: string;
  readonly #log: Logger;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #cutThroughTimeoutMs: number;
  /** The chunk deliveries under way, by upload and index. */
  readonly #inFlight = new Set<string>();
  /** The manifest deliveries under way, by upload: one at a time each. */
  readonly #manifests = new Map<string, Promise<ManifestDelivery>>();
  /** When the parent last answered (-Infinity: never, or it failed since). */
  #lastAnswerAt = -Infinity;
  #forwarded = 0;
  /** Bytes of the chunks in flight. */
  #inFlightBytes = 0;

  constructor(options: UploadForwarderOptions) {
    super({
      minMs: options.minBackoffMs ?? 500,
      maxMs: options.maxBackoffMs ?? 30_000,
      log: options.log ?? silentLogger,
      lines: {
        failing: "cannot forward uploads; keeping them",
        stillFailing: null,
        recovered: "parent answers again; forwarding uploads",
        waitingField: "chunks",
        recoveredCountsWaiting: false,
      },
    });
    this.#buffer = options.buffer;
    this.#upstream = Upstream.of(options.parentUrl);
    const first = this.#chunksParent = this.#upstream.parents.parents[0];
    this.#chunks = ChunkConnections.supports(first)
      ? new ChunkConnections(first, {
        maxConnections: Math.max(
          MAX_CHUNKS_IN_FLIGHT,
          options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY,
        ),
        timeoutMs: options.timeoutMs ?? 60_000,
      })
      : null;
    this.#log = options.log ?? silentLogger;
    this.#concurrency = options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#cutThroughTimeoutMs = options.cutThroughTimeoutMs ?? CUT_THROUGH_TIMEOUT_MS;
  }

  /** Chunks forwarded since start. */
  get forwarded(): number {
    return this.#forwarded;
  }

  /**
   * Cut-through: sends a chunk the relay has just read straight to the parent, when it can take
   * it now: the forwarder runs and is not backing off, the parent answered recently, the upload's
   * manifest is delivered (and the upload neither complete nor refused), and this chunk is not
   * waiting in the buffer. The bytes stay the caller's (not released here).
   *
   * A taken chunk is counted and an answer saying the file is complete marks the upload
   * complete, as for the pump. On any other outcome nothing is recorded but the back-off (when
   * the parent did not answer usably): the caller stores the chunk in the buffer, and the pump
   * then handles it as it handles every buffered chunk.
   *
   * @returns "taken" with the parent's answer, or "not-taken" when the caller must buffer it.
   */
  async forwardNow(
    upload: BufferedUpload,
    index: number,
    bytes: Uint8Array<ArrayBuffer>,
  ): Promise<ChunkForwarding> {
    if (!this.#mayForwardNow(upload, index)) return { kind: "not-taken" };
    const sending = this.#sendChunk(upload, index, bytes, this.#cutThroughTimeoutMs);
    this.loop.run(sending); // so that stop() waits for it too
    const verdict = await sending;
    if (verdict.kind === "retry") {
      this.#failed(verdict.reason, verdict.retryAfterMs);
      return { kind: "not-taken" };
    }
    this.#answered();
    if (verdict.kind !== "taken") return { kind: "not-taken" };
    try {
      await this.#took(upload, verdict);
    } catch (error) {
      // The parent has the chunk all the same; a status query records the completion later.
      this.#failed(`local failure: ${(error as Error).message}`, null);
    }
    return { kind: "taken", body: verdict.body };
  }

  /** Stops starting requests and waits (at most `graceMs`) for those in flight. */
  override async stop(graceMs = 10_000): Promise<void> {
    await super.stop(graceMs);
    this.#chunks?.close();
  }

  /**
   * Posts an upload's manifest to the parent (once at a time per upload) and records the
   * outcome. The relay's app calls it too, so a client hears a refusal at once when it can.
   */
  deliverManifest(upload: BufferedUpload, timeoutMs = this.#timeoutMs): Promise<ManifestDelivery> {
    const key = `${upload.cid}-${upload.uid}`;
    let delivery = this.#manifests.get(key);
    if (!delivery) {
      delivery = this.#postManifest(upload, timeoutMs).finally(() => this.#manifests.delete(key));
      this.#manifests.set(key, delivery);
      this.loop.run(delivery);
    }
    return delivery;
  }

  /**
   * Asks the parent for an upload's status.
   *
   * @returns the status, "unknown-upload" when the parent has never seen it, or null when the
   * parent did not answer usably.
   */
  async parentStatus(
    upload: BufferedUpload,
    timeoutMs = 5_000,
  ): Promise<UploadStatus | "unknown-upload" | null> {
    let answer: UploadAnswer;
    try {
      answer = await this.#call("GET", `/${upload.cid}/${upload.uid}`, undefined, timeoutMs);
    } catch (error) {
      if (error instanceof ParentUnreachableError) return null;
      throw error;
    }
    if (answer.status === 404 && errorCodeOf(answer.body) === "ERR_UNKNOWN_UPLOAD") {
      this.#lastAnswerAt = Date.now();
      return "unknown-upload";
    }
    if (answer.status !== 200) return null;
    this.#lastAnswerAt = Date.now();
    const status = readUploadStatus(answer.body);
    return status !== null && status.uploadId === upload.uid ? status : null;
  }

  /** The buffered chunks. */
  protected waiting(): number {
    return this.#buffer.waiting;
  }

  /** Starts each buffered upload's manifest, then its chunks, within the bounds in flight. */
  protected fill(): void {
    for (const upload of this.#buffer.list()) {
      if (this.#inFlight.size >= Math.max(this.#concurrency, MAX_CHUNKS_IN_FLIGHT)) return;
      if (upload.complete || upload.refused) continue;
      if (!upload.manifestDelivered) {
        if (!this.#manifests.has(`${upload.cid}-${upload.uid}`)) void this.deliverManifest(upload);
        continue;
      }
      for (const [index, place] of upload.chunks) {
        if (!this.#mayStart(place.length)) return;
        const key = `${upload.cid}-${upload.uid}-${index}`;
        if (this.#inFlight.has(key)) continue;
        const length = place.length;
        this.#inFlightBytes += length;
        this.#inFlight.add(key);
        this.loop.run(
          this.#deliverChunk(upload, index).finally(() => {
            this.#inFlight.delete(key);
            this.#inFlightBytes -= length;
          }),
        );
      }
    }
  }

  /** Whether a chunk just received may go straight to the parent (see `forwardNow`). */
  #mayForwardNow(upload: BufferedUpload, index: number): boolean {
    return this.loop.running && !this.loop.backingOff &&
      Date.now() - this.#lastAnswerAt <= RECENT_ANSWER_MS &&
      upload.manifestDelivered && !upload.complete && upload.refused === null &&
      !upload.chunks.has(index);
  }

  /** Whether one more chunk of `length` bytes may go now. */
  #mayStart(length: number): boolean {
    const count = this.#inFlight.size;
    if (count < this.#concurrency) return true;
    return count < MAX_CHUNKS_IN_FLIGHT && this.#inFlightBytes + length <= EXTRA_IN_FLIGHT_BYTES;
  }

  async #postManifest(upload: BufferedUpload, timeoutMs: number): Promise<ManifestDelivery> {
    try {
      const answer = await this.#call(
        "POST",
        "",
        await this.#buffer.readManifest(upload),
        timeoutMs,
        "application/json",
      );
      if (answer.status >= 200 && answer.status < 300) {
        await this.#buffer.setManifestDelivered(upload, true);
        const status = readUploadStatus(answer.body);
        if (status?.state === "complete") await this.#buffer.complete(upload);
        this.#answered();
        return { kind: "delivered", status };
      }
      if (isRetryable(answer.status)) {
        this.#failed(`parent answered ${answer.status}`, answer.retryAfterMs);
        return { kind: "retry" };
      }
      await this.#refuse(upload, answer);
      this.#answered();
      return { kind: "refused" };
    } catch (error) {
      this.#failed(
        error instanceof ParentUnreachableError
          ? describeUnreachable(error)
          : `local failure: ${(error as Error).message}`,
        null,
      );
      return { kind: "retry" };
    }
  }

  async #deliverChunk(upload: BufferedUpload, index: number): Promise<void> {
    try {
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = this.#buffer.readChunk(upload, index);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        this.#buffer.removeChunk(upload, index);
        return;
      }
      let verdict: ChunkVerdict;
      try {
        verdict = await this.#sendChunk(upload, index, bytes);
      } finally {
        releaseBytes(bytes);
      }
      switch (verdict.kind) {
        case "taken":
          this.#buffer.removeChunk(upload, index);
          await this.#took(upload, verdict);
          break;
        case "unknown-upload":
          await this.#buffer.setManifestDelivered(upload, false);
          break;
        case "retry":
          this.#failed(verdict.reason, verdict.retryAfterMs);
          return;
        case "chunk-refused":
          this.#buffer.removeChunk(upload, index);
          this.#log.warn("parent refused a chunk; deleted it, the client will send it again", {
            cid: upload.cid,
            uid: upload.uid,
            index,
            code: verdict.code,
          });
          break;
        case "upload-refused":
          await this.#refuse(upload, verdict.answer);
          break;
      }
      this.#answered();
    } catch (error) {
      this.#failed(`local failure: ${(error as Error).message}`, null);
    }
  }

  /**
   * Puts one chunk to the parent, through the kept connections (plain http) or `fetch`, and
   * reads the answer; a parent that does not answer is a "retry" verdict.
   */
  async #sendChunk(
    upload: BufferedUpload,
    index: number,
    bytes: Uint8Array<ArrayBuffer>,
    timeoutMs = this.#timeoutMs,
  ): Promise<ChunkVerdict> {
    const path = `/${upload.cid}/${upload.uid}/${index}`;
    try {
      const answer = await this.#upstream.request(
        `${API.uploads}${path}`,
        (url) =>
          this.#chunks !== null && url.startsWith(`${this.#chunksParent}/`)
            ? this.#chunks.request("PUT", `${API.uploads}${path}`, bytes, OCTETS, timeoutMs)
            : this.#call("PUT", path, bytes, timeoutMs, OCTETS, url),
      );
      return classifyChunkAnswer(answer);
    } catch (error) {
      const reason = error instanceof ParentUnreachableError
        ? describeUnreachable(error)
        : `local failure: ${(error as Error).message}`;
      return { kind: "retry", reason, retryAfterMs: null };
    }
  }

  /** Records a chunk the parent took: counted, and the upload complete when it says so. */
  async #took(upload: BufferedUpload, verdict: ChunkVerdict & { kind: "taken" }): Promise<void> {
    this.#forwarded++;
    if (verdict.complete && !upload.complete) {
      await this.#buffer.complete(upload);
      this.#log.info("upload stored by the parent", { cid: upload.cid, uid: upload.uid });
    }
  }

  async #refuse(upload: BufferedUpload, answer: UploadAnswer): Promise<void> {
    const said = (answer.body as { error?: { message?: unknown } } | null)?.error?.message;
    const refusal = {
      status: answer.status,
      code: errorCodeOf(answer.body) ?? "ERR_UPLOAD_REFUSED",
      message: typeof said === "string" ? said.slice(0, 500) : `HTTP ${answer.status}`,
    };
    await this.#buffer.refuse(upload, refusal);
    this.#log.warn("parent refused an upload for good; its chunks were deleted", {
      cid: upload.cid,
      uid: upload.uid,
      status: refusal.status,
      code: refusal.code,
    });
  }

  /** The parent answered: the failure streak ends, and chunks may go straight on. */
  #answered(): void {
    this.#lastAnswerAt = Date.now();
    this.loop.answered();
  }

  /** The parent did not answer usably: back off, and send chunks through the buffer meanwhile. */
  #failed(reason: string, retryAfterMs: number | null): void {
    this.#lastAnswerAt = -Infinity;
    this.loop.failed(reason, retryAfterMs);
  }

  #call(
    method: string,
    path: string,
    body: BodyInit | undefined,
    timeoutMs: number,
    contentType?: string,
    url?: string,
  ): Promise<UploadAnswer> {
    const send = (target: string) =>
      fetchUploadAnswer(target, {
        method,
        body,
        headers: contentType ? { "content-type": contentType } : undefined,
        timeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
      });
    // One parent when it is named (a chunk's attempt), else the parents in order.
    return url ? send(url) : this.#upstream.request(`${API.uploads}${path}`, send);
  }
}
