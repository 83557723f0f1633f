/**
 * Sends one queued upload to the parent, resuming wherever the parent says it stands.
 *
 * 1. Decide, as for reports (`encryption_decision.ts`): encrypt, send in clear, or hold. A held
 *    upload sends nothing at all, not even the manifest.
 * 2. Ask the parent's limits (`GET /api/v1/uploads`); the chunk size is the smaller of
 *    `_BESClient_UploadManager_ChunkSize` and the parent's largest chunk, the throttle the lower
 *    of `_BESClient_UploadManager_ThrottleKBPS` and the parent's.
 * 3. Make the manifest once (a fresh upload id and file key, saved before any chunk is sealed)
 *    and post it; the answer is the upload's status. A manifest made for another computer id,
 *    another mode, or a chunk size the parent no longer takes is replaced by a new one with a new
 *    upload id and file key: a file key is never used with two manifests.
 * 4. Send the missing chunks through the chunk window (`chunk_window.ts`): a few in flight,
 *    each read from the snapshot, sealed (or signed) and put; a 503/429 answer means wait
 *    `Retry-After` and try the same chunk again; a chunk past the server's quota (413
 *    `ERR_UPLOAD_QUOTA_EXCEEDED`) stops this attempt and leaves the upload queued for the next
 *    cycle (a manifest past it fails the upload, as before).
 * 5. Ask the status again: send what is still missing, or wait until the server says it stored
 *    the file and checked its hash. Only then is the snapshot deleted.
 *
 * Memory stays at a few chunks whatever the file's size.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { deriveChunkKey } from "../envelope/upload_chunk.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { ChunkConnections } from "../protocol/chunk_connections.ts";
import { API } from "../protocol/paths.ts";
import { clientUploadLimits, readUploadLimits, type UploadStatus } from "../protocol/upload.ts";
import { readUploadStatus } from "../protocol/upload_status.ts";
import { fetchUploadAnswer, type UploadAnswer } from "../protocol/upload_fetch.ts";
import { type ChunkWindowJob, sendChunkWindow } from "./chunk_window.ts";
import { decideEncryption, type EncryptionSituation } from "./encryption_decision.ts";
import { makeManifest } from "./made_manifest.ts";
import { sleep, waitIfParentBusy } from "./parent_busy_wait.ts";
import { SnapshotReader } from "./snapshot_reader.ts";
import { readUploadRefusal, type UploadRefusal } from "./upload_refusal.ts";
import { type MadeManifest, type QueuedUpload, UploadQueue } from "./upload_queue.ts";
import {
  isUploadStatus,
  timeUpResult,
  unreachableResult,
  type UploadResult,
} from "./upload_result.ts";

/** What sending needs from the agent. */
export interface UploaderContext {
  parentUrl: string;
  computerId: number;
  signingKey: CryptoKey;
  serverKey: { kid: string; publicKey: CryptoKey } | null;
  /** What the decision is made on, as for reports (`Agent.encryptionSituation`). */
  encryption: EncryptionSituation;
  /** The client's deployed settings (chunk size, throttle). */
  settings: Record<string, string>;
  queue: UploadQueue;
  /** When to stop and leave the upload queued (milliseconds since the epoch). */
  deadline: number;
  /** Chunks in flight at once (default 8). */
  window?: number;
  /** Called as chunks are acknowledged and while waiting for the server. */
  onProgress?: (upload: QueuedUpload, phase: "sending" | "waiting") => void;
}

const MAX_ANSWER_BYTES = 64 * 1024;
/** Rounds of "send what is missing, ask again" in one session. */
const MAX_ROUNDS = 64;
const SAVE_EVERY_MS = 1000;

/**
 * Sends one queued upload as far as it goes before `deadline`.
 *
 * @example
 * ```ts ignore
 * const result = await sendUpload(context, upload.id);
 * if (result.outcome === "complete") console.log("stored");
 * ```
 */
export async function sendUpload(context: UploaderContext, id: string): Promise<UploadResult> {
  const release = await context.queue.lock(id);
  if (release === null) {
    return { outcome: "pending", message: "another client process is sending this upload" };
  }
  try {
    const upload = await context.queue.get(id);
    if (upload === null) return { outcome: "failed", message: `no queued upload "${id}"` };
    if (upload.state === "complete") return { outcome: "complete", message: "already stored" };
    if (upload.state === "failed") {
      return { outcome: "failed", message: upload.lastError?.message ?? "failed" };
    }
    return await new UploadSession(context, upload).run();
  } finally {
    release();
  }
}

/** Outcome counts of {@linkcode sendQueuedUploads}. */
export interface UploadsSummary {
  complete: number;
  failed: number;
  held: number;
  pending: number;
  unreachable: boolean;
  messages: string[];
}

/** Sends every queued upload, oldest first; stops at the first unreachable parent. */
export async function sendQueuedUploads(context: UploaderContext): Promise<UploadsSummary> {
  const summary: UploadsSummary = {
    complete: 0,
    failed: 0,
    held: 0,
    pending: 0,
    unreachable: false,
    messages: [],
  };
  for (const upload of await context.queue.list()) {
    if (upload.state === "complete" || upload.state === "failed") continue;
    const result = await sendUpload(context, upload.id);
    summary.messages.push(`upload ${upload.id} (${upload.name}): ${result.message}`);
    if (result.outcome === "unreachable") {
      summary.unreachable = true;
      summary.pending++;
      break;
    }
    summary[result.outcome]++;
    if (Date.now() > context.deadline) break;
  }
  return summary;
}

class UploadSession {
  readonly #context: UploaderContext;
  readonly #upload: QueuedUpload;
  #snapshot: SnapshotReader | null = null;
  #lastSave = 0;
  #saving: Promise<void> = Promise.resolve();
  /** Kept connections for chunks (plain http parents); null: `fetch`. */
  #chunks: ChunkConnections | null = null;
  #manifestRepost: Promise<UploadStatus | UploadResult> | null = null;

  constructor(context: UploaderContext, upload: QueuedUpload) {
    this.#context = context;
    this.#upload = upload;
  }

  async run(): Promise<UploadResult> {
    try {
      return await this.#run();
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) throw error;
      return unreachableResult(error);
    } finally {
      this.#snapshot?.close();
      this.#snapshot = null;
      this.#chunks?.close();
      this.#chunks = null;
      await this.#save(true);
    }
  }

  async #run(): Promise<UploadResult> {
    const context = this.#context;
    const upload = this.#upload;
    const decision = decideEncryption(context.encryption);
    if (decision.action === "hold") {
      return {
        outcome: "held",
        message: `${decision.reason}; the upload stays queued`,
        hint: decision.hint,
      };
    }
    const encrypt = decision.action === "encrypt";

    const limitsAnswer = await this.#call("GET", API.uploads);
    if (limitsAnswer.status !== 200) {
      return {
        outcome: "pending",
        message: `the parent does not take uploads now (HTTP ${limitsAnswer.status})`,
      };
    }
    let limits;
    try {
      limits = clientUploadLimits(context.settings, readUploadLimits(limitsAnswer.body));
    } catch (error) {
      return { outcome: "pending", message: (error as Error).message };
    }

    const made = upload.manifest;
    if (
      made !== null &&
      (made.cid !== context.computerId || (made.kid !== null) !== encrypt ||
        made.chunkSize > readUploadLimits(limitsAnswer.body).maxChunkBytes)
    ) {
      this.#forgetManifest();
    }
    const manifest = upload.manifest ?? await this.#makeManifest(encrypt, limits.chunkSize);
    upload.state = "sending";
    await this.#save(true);

    const chunkKey = manifest.fileKey === null
      ? null
      : await deriveChunkKey(decodeBase64Url(manifest.fileKey), manifest.uid);
    let status = await this.#postManifest(manifest);
    if (!isUploadStatus(status)) return status;

    this.#snapshot = new SnapshotReader(await context.queue.openData(upload.id), {
      size: upload.size,
      chunkSize: manifest.chunkSize,
      keep: context.window ?? 8,
      name: upload.id,
    });
    if (ChunkConnections.supports(context.parentUrl)) {
      this.#chunks = new ChunkConnections(context.parentUrl, {
        maxConnections: Math.max(1, context.window ?? 8),
      });
    }
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        if (status.state === "complete") return await this.#finish();
        if (status.state === "failed" || status.state === "refused") {
          return await this.#fail(
            `the server refused the upload: ${status.error?.message ?? status.state}`,
          );
        }
        this.#noteStatus(status);
        const { sent, stop } = await sendChunkWindow(
          this.#chunkWindowJob(manifest, chunkKey, limits.throttleKBPS),
          this.#missing(status, manifest),
        );
        if (stop) return stop;
        let next: UploadStatus | UploadResult;
        if (sent === 0) {
          if (status.stored === null) {
            return {
              outcome: "pending",
              message: "sent; the relay cannot reach the server now and will forward it later",
            };
          }
          next = await this.#waitForServer(manifest, status);
        } else {
          next = await this.#status(manifest);
        }
        if (!isUploadStatus(next)) return next;
        status = next;
      }
      return { outcome: "pending", message: "still incomplete after many rounds; will resume" };
    } finally {
      this.#snapshot?.close();
      this.#snapshot = null;
    }
  }

  /** Makes and saves the manifest: a new upload id and, encrypting, a new file key. */
  async #makeManifest(encrypt: boolean, chunkSize: number): Promise<MadeManifest> {
    const context = this.#context;
    const upload = this.#upload;
    const made = await makeManifest(upload, context, encrypt, chunkSize);
    upload.manifest = made;
    upload.acked = 0;
    upload.stored = null;
    // Saved before any chunk is sealed with this key, so a restart reuses it and never makes a
    // second key for the same upload id.
    await this.#save(true);
    return made;
  }

  #forgetManifest(): void {
    this.#upload.manifest = null;
    this.#upload.acked = 0;
    this.#upload.stored = null;
  }

  async #postManifest(manifest: MadeManifest): Promise<UploadStatus | UploadResult> {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const answer = await this.#call("POST", API.uploads, manifest.message, "application/json");
      if (answer.status >= 200 && answer.status < 300) {
        const status = readUploadStatus(answer.body);
        if (status === null || status.uploadId !== manifest.uid) {
          return { outcome: "pending", message: "the parent gave an unreadable upload status" };
        }
        return status;
      }
      const waited = await waitIfParentBusy(answer, this.#context.deadline);
      if (waited === "timeout") return timeUpResult();
      if (waited === "waited") continue;
      return await this.#refused(readUploadRefusal(answer));
    }
    return timeUpResult();
  }

  async #status(manifest: MadeManifest): Promise<UploadStatus | UploadResult> {
    const answer = await this.#call("GET", `${API.uploads}/${manifest.cid}/${manifest.uid}`);
    if (answer.status === 200) {
      const status = readUploadStatus(answer.body);
      if (status !== null && status.uploadId === manifest.uid) return status;
      return { outcome: "pending", message: "the parent gave an unreadable upload status" };
    }
    if (answer.status === 404) return await this.#postManifest(manifest);
    const waited = await waitIfParentBusy(answer, this.#context.deadline);
    if (waited === "waited") return await this.#status(manifest);
    if (waited === "timeout") return timeUpResult();
    return await this.#refused(readUploadRefusal(answer));
  }

  /** Polls the status until the server finished, something is missing again, or time is up. */
  async #waitForServer(
    manifest: MadeManifest,
    last: UploadStatus,
  ): Promise<UploadStatus | UploadResult> {
    let delay = 100;
    let status = last;
    while (Date.now() < this.#context.deadline) {
      this.#context.onProgress?.(this.#upload, "waiting");
      await sleep(Math.min(delay, Math.max(0, this.#context.deadline - Date.now())));
      delay = Math.min(1000, delay * 2);
      const next = await this.#status(manifest);
      if (!isUploadStatus(next)) return next;
      status = next;
      this.#noteStatus(status);
      if (status.state !== "receiving" || status.missing.length > 0 || status.stored === null) {
        return status;
      }
    }
    this.#noteStatus(status);
    return {
      outcome: "pending",
      message: `sent; the server holds ${status.stored ?? "?"} of ${status.chunkCount} chunks`,
    };
  }

  /**
   * The chunks to send: the status's missing ranges. When the relay cannot tell what the server
   * holds (`stored` null), chunks this client already had acknowledged are not sent again.
   */
  *#missing(status: UploadStatus, manifest: MadeManifest): Generator<number> {
    const skipBelow = status.stored === null ? this.#upload.acked : 0;
    for (const [start, end] of status.missing) {
      for (let index = Math.max(start, skipBelow); index < end; index++) {
        if (index < manifest.chunkCount) yield index;
      }
    }
  }

  /** The chunk window's view of this session. */
  #chunkWindowJob(
    manifest: MadeManifest,
    chunkKey: CryptoKey | null,
    throttleKBPS: number,
  ): ChunkWindowJob {
    const context = this.#context;
    return {
      manifest,
      chunkKey,
      signingKey: context.signingKey,
      snapshot: this.#snapshot!,
      window: context.window ?? 8,
      throttleKBPS,
      deadline: context.deadline,
      put: (path, body) =>
        this.#chunks
          ? this.#chunks.request("PUT", path, body)
          : this.#call("PUT", path, body, "application/octet-stream"),
      repostManifest: () => this.#manifestRepost ??= this.#postManifest(manifest),
      refused: (refusal) => this.#refused(refusal),
      onAcked: () => {
        this.#upload.acked = Math.min(manifest.chunkCount, this.#upload.acked + 1);
        context.onProgress?.(this.#upload, "sending");
        void this.#save(false).catch(() => {});
      },
    };
  }

  /** What a refusal means for the upload. */
  async #refused(refusal: UploadRefusal): Promise<UploadResult> {
    switch (refusal.kind) {
      case "new-manifest":
        this.#forgetManifest();
        return { outcome: "pending", message: `${refusal.why}: ${refusal.said}` };
      case "sender-refused":
        return { outcome: "pending", message: `the server refused this computer: ${refusal.said}` };
      case "try-later":
        return {
          outcome: "pending",
          message: `the parent answered ${refusal.status}: ${refusal.said}`,
        };
      case "failed":
        return await this.#fail(
          `the server refused the upload (${refusal.code ?? refusal.status}): ${refusal.said}`,
        );
      // A manifest (or status) refused so, or a chunk still unknown after posting again.
      case "unknown-upload":
        return await this.#fail(
          `the server refused the upload (ERR_UNKNOWN_UPLOAD): ${refusal.said}`,
        );
      case "quota-full":
        return await this.#fail(
          `the server refused the upload (ERR_UPLOAD_QUOTA_EXCEEDED): ${refusal.said}`,
        );
    }
  }

  async #finish(): Promise<UploadResult> {
    const upload = this.#upload;
    upload.state = "complete";
    upload.completedAt = new Date().toISOString();
    upload.acked = upload.manifest?.chunkCount ?? upload.acked;
    upload.stored = upload.acked;
    upload.lastError = null;
    await this.#save(true);
    await this.#context.queue.removeData(upload.id);
    this.#context.onProgress?.(upload, "waiting");
    return { outcome: "complete", message: "the server stored the file and checked its SHA-256" };
  }

  async #fail(message: string): Promise<UploadResult> {
    this.#upload.state = "failed";
    this.#upload.lastError = { at: new Date().toISOString(), message };
    await this.#save(true);
    return { outcome: "failed", message };
  }

  /** Takes the parent's figures when it knows what the server holds (they are the truth). */
  #noteStatus(status: UploadStatus): void {
    if (status.stored === null) return;
    this.#upload.stored = status.stored;
    this.#upload.acked = status.received;
  }

  /** Saves the state (at most once a second unless forced), one save after the other. */
  async #save(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.#lastSave < SAVE_EVERY_MS) return;
    this.#lastSave = now;
    const snapshot = JSON.parse(JSON.stringify(this.#upload)) as QueuedUpload;
    this.#saving = this.#saving.catch(() => {}).then(() => this.#context.queue.save(snapshot));
    await this.#saving;
  }

  #call(
    method: string,
    path: string,
    body?: BodyInit,
    contentType?: string,
  ): Promise<UploadAnswer> {
    return fetchUploadAnswer(`${this.#context.parentUrl}${path}`, {
      method,
      body,
      headers: contentType ? { "content-type": contentType } : undefined,
      maxBytes: MAX_ANSWER_BYTES,
      timeoutMs: 60_000,
    });
  }
}
