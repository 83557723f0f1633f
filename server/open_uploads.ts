/**
 * The uploads in progress that the server holds open in memory: at most a set number (the least
 * recently used are checkpointed and set aside), loaded again from their folder and record when a
 * chunk or a status asks for them, one piece of work at a time per upload, and how each ends
 * (stored or failed, `upload_completion.ts`).
 *
 * @module
 */

import { deriveChunkKey } from "../envelope/upload_chunk.ts";
import { readUploadManifestMessage } from "../envelope/upload_manifest.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import type { UploadStatus } from "../protocol/upload.ts";
import type { UploadRecord } from "../store/upload_records.ts";
import { IngestError } from "./ingest_error.ts";
import type { UploadAdmission } from "./upload_admission.ts";
import {
  type ActiveUpload,
  activeUpload,
  checkpoint,
  heldBytes,
  type UploadDisk,
} from "./upload_chunk_writer.ts";
import { finalizeUpload, recordFailure, statusOf } from "./upload_completion.ts";

/** What the uploads held open need. */
export interface OpenUploadsOptions {
  disk: UploadDisk;
  /** Gives back the file key of an encrypted upload loaded again. */
  admission: Pick<UploadAdmission, "reopenFileKey">;
  /** This server's name: uploads in progress that another server holds are not opened here. */
  serverName: string;
  /** Uploads kept open in memory. */
  maxActive: number;
}

/** Uploads in progress held open in memory, and the lock that orders the work on each. */
export class OpenUploads {
  readonly #disk: UploadDisk;
  readonly #admission: Pick<UploadAdmission, "reopenFileKey">;
  readonly #serverName: string;
  readonly #maxActive: number;
  readonly #active = new Map<string, ActiveUpload>();
  /** Uploads set aside from memory whose last checkpoint is still being written. */
  readonly #closing = new Map<string, Promise<void>>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(options: OpenUploadsOptions) {
    this.#disk = options.disk;
    this.#admission = options.admission;
    this.#serverName = options.serverName;
    this.#maxActive = options.maxActive;
  }

  /** How many uploads are open in memory now. */
  get size(): number {
    return this.#active.size;
  }

  /** The upload if it is open in memory now (not loaded, not locked). */
  cached(cid: number, uid: string): ActiveUpload | undefined {
    return this.#active.get(keyOf(cid, uid));
  }

  /**
   * True for an upload in progress whose partial file another server holds: here it is unknown
   * (404, so the client posts its manifest) until that manifest makes this server take it over.
   */
  heldElsewhere(record: UploadRecord): boolean {
    return record.server !== null && record.server !== this.#serverName &&
      (record.state === "receiving" || record.state === "finalizing");
  }

  /** Runs `work` after every earlier piece of work on the same upload. */
  async withLock<T>(cid: number, uid: string, work: () => Promise<T>): Promise<T> {
    const key = keyOf(cid, uid);
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const mine = previous.catch(() => {}).then(work);
    const settled = mine.catch(() => {});
    this.#locks.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    }
  }

  /** Holds an upload open, setting aside the least recently used ones past the maximum. */
  remember(active: ActiveUpload): void {
    const { computerId, uploadId } = active.record;
    this.#active.set(keyOf(computerId, uploadId), active);
    if (this.#active.size <= this.#maxActive) return;
    for (const [key, candidate] of this.#active) {
      if (candidate.busy > 0 || candidate === active || this.#locks.has(key)) continue;
      this.#active.delete(key);
      const closing = checkpoint(candidate, this.#disk).catch(() => {}).finally(() =>
        candidate.file.close()
      );
      this.#closing.set(key, closing);
      void closing.finally(() => {
        if (this.#closing.get(key) === closing) this.#closing.delete(key);
      });
      if (this.#active.size <= this.#maxActive) return;
    }
  }

  /**
   * The upload in progress (loaded into memory if needed, when `forChunks`), or its final record.
   * Call it under {@linkcode OpenUploads.withLock}.
   *
   * @throws {IngestError} 404 `ERR_UNKNOWN_UPLOAD` when the server never accepted its manifest.
   */
  async load(cid: number, uid: string, forChunks: boolean): Promise<ActiveUpload | UploadRecord> {
    const key = keyOf(cid, uid);
    const cached = this.#active.get(key);
    if (cached) {
      this.#active.delete(key);
      this.#active.set(key, cached);
      return cached;
    }
    // Set aside a moment ago: its last checkpoint first, so what is read below is current.
    await this.#closing.get(key);
    const { files, records, quota } = this.#disk;
    const record = await records.getUpload(cid, uid);
    if (record === null || this.heldElsewhere(record)) throw unknownUpload(cid, uid);
    if (record.state === "complete" || record.state === "failed" || !forChunks) return record;
    if (!(await files.hasIncoming(cid, uid))) {
      await this.markFailed(record, "ERR_UPLOAD_LOST", "the server lost the partial file");
      return (await records.getUpload(cid, uid))!;
    }
    const parsed = readUploadManifestMessage(
      JSON.parse(decodeUtf8(await files.readManifest(cid, uid))),
    );
    let chunkKey: CryptoKey | null = null;
    if (parsed.kind === "encrypted") {
      const fileKey = await this.#admission.reopenFileKey(parsed, cid, uid);
      chunkKey = await deriveChunkKey(fileKey, uid);
      fileKey.fill(0);
    }
    const now = this.#disk.now();
    const bitmap = await files.readBitmap(cid, uid, record.chunkCount);
    // What the bitmap names is what the upload holds: the quotas count that, nothing else.
    const received = heldBytes(record, bitmap);
    quota.forget(cid, uid);
    if (received !== record.receivedBytes) {
      await records.updateUpload(cid, uid, { receivedBytes: received });
    }
    const active = activeUpload(record, {
      chunkKey,
      bitmap,
      file: await files.openPartial(cid, uid),
      receivedBytes: received,
      lastTouch: 0,
    }, now);
    this.remember(active);
    if (active.bitmap.complete) {
      // A crash came after the last chunk: finish storing it now.
      await this.finalize(active);
      return (await records.getUpload(cid, uid))!;
    }
    return active;
  }

  /** The status of an upload; call it under {@linkcode OpenUploads.withLock}. */
  async status(cid: number, uid: string): Promise<UploadStatus> {
    const loaded = await this.load(cid, uid, false);
    if ("bitmap" in loaded) return statusOf(loaded.record, loaded.bitmap);
    if (loaded.state === "receiving" || loaded.state === "finalizing") {
      const bitmap = await this.#disk.files.readBitmap(cid, uid, loaded.chunkCount);
      return statusOf(loaded, bitmap);
    }
    return statusOf(loaded, null);
  }

  /** Stores an upload whose chunks are all in, and forgets it. */
  async finalize(active: ActiveUpload): Promise<void> {
    const { computerId: cid, uploadId: uid } = active.record;
    this.#active.delete(keyOf(cid, uid));
    await finalizeUpload(active, this.#disk);
  }

  /** Records an upload as failed (`code: message`), closes it and deletes its data. */
  async markFailed(record: UploadRecord, code: string, message: string): Promise<void> {
    const { computerId: cid, uploadId: uid } = record;
    this.#active.get(keyOf(cid, uid))?.file.close();
    this.#active.delete(keyOf(cid, uid));
    await recordFailure(this.#disk, record, code, message);
  }

  /** Checkpoints and closes every upload open in memory. */
  async close(): Promise<void> {
    for (const active of this.#active.values()) {
      await checkpoint(active, this.#disk).catch(() => {});
      active.file.close();
    }
    this.#active.clear();
  }
}

/** The refusal of a chunk or status for an upload whose manifest this server never accepted. */
export function unknownUpload(cid: number, uid: string): IngestError {
  return new IngestError(
    404,
    "ERR_UNKNOWN_UPLOAD",
    `Upload ${uid} of computer ${cid} is not known here; post its manifest first`,
  );
}

/** The key of an upload in maps of uploads: its computer and its id. */
export function keyOf(cid: number, uid: string): string {
  return `${cid}-${uid}`;
}
