/**
 * An upload in progress on the server, and what it takes to write its chunks: the partial file
 * at each chunk's offset, the running SHA-256 (chunks that arrive early are hashed later, read
 * back from the partial file), and checkpoints (sync, then a chunk bitmap) that say what survives
 * a crash.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import type { IncrementalSha256 } from "../protocol/incremental_sha256.ts";
import {
  type ChunkBitmap,
  chunkLengthOf,
  chunkOverhead,
  type UploadStatus,
} from "../protocol/upload.ts";
import { releaseBytes } from "../protocol/upload_fetch.ts";
import type { UploadRecord, UploadRecords } from "../store/upload_records.ts";
import { IngestError } from "./ingest_error.ts";
import type { UploadFiles } from "./upload_store.ts";

/** Where uploads live: their folders, their records, the log and the clock. */
export interface UploadDisk {
  files: UploadFiles;
  records: UploadRecords;
  log: Logger;
  now: () => number;
}

/** A chunk's acknowledgement: small, so that acknowledging costs nothing per chunk. */
export interface ChunkAnswer {
  /** "stored" now, or "duplicate" when the server already had it. */
  result: "stored" | "duplicate";
  uploadId: string;
  computerId: number;
  state: UploadStatus["state"];
  received: number;
  chunkCount: number;
}

/** An upload held open in memory while chunks arrive. */
export interface ActiveUpload {
  record: UploadRecord;
  chunkKey: CryptoKey | null;
  bitmap: ChunkBitmap;
  file: Deno.FsFile;
  /** Where the partial file's position stands (-1: unknown): in-order writes skip the seek. */
  position: number;
  hash: IncrementalSha256;
  hashedChunks: number;
  sinceCheckpoint: number;
  lastCheckpoint: number;
  /** The checkpoint being written, if any (one at a time). */
  checkpointing: Promise<void>;
  lastTouch: number;
  busy: number;
}

/** Chunks, or milliseconds, between checkpoints. */
export const CHECKPOINT_CHUNKS = 64;
export const CHECKPOINT_MS = 1000;
const TOUCH_MS = 60_000;
/** Chunks hashed from disk per request when catching up; the rest waits for the next ones. */
export const CATCH_UP_CHUNKS = 64;

/**
 * Writes a chunk's plaintext at its offset, marks it held and hashes what can be hashed in order.
 * Synchronous: a write into the page cache takes microseconds, less than a thread hand-off.
 */
export function writeChunk(
  active: ActiveUpload,
  index: number,
  plaintext: Uint8Array<ArrayBuffer>,
): void {
  const offset = index * active.record.chunkSize;
  if (active.position !== offset) active.file.seekSync(offset, Deno.SeekMode.Start);
  active.position = -1;
  writeAllSync(active.file, plaintext);
  active.position = offset + plaintext.length;
  active.bitmap.set(index);
  active.sinceCheckpoint++;
  if (index === active.hashedChunks) {
    active.hash.update(plaintext);
    active.hashedChunks++;
  }
  catchUpHash(active, CATCH_UP_CHUNKS);
}

/** Whether enough chunks or time passed since the last checkpoint. */
export function checkpointDue(active: ActiveUpload, now: number): boolean {
  return active.sinceCheckpoint >= CHECKPOINT_CHUNKS ||
    now - active.lastCheckpoint >= CHECKPOINT_MS;
}

/** Hashes, in order, the chunks already written past the hash's position (read back). */
export function catchUpHash(active: ActiveUpload, maxChunks: number): void {
  const { record } = active;
  let done = 0;
  while (
    active.hashedChunks < record.chunkCount && active.bitmap.has(active.hashedChunks) &&
    done < maxChunks
  ) {
    const index = active.hashedChunks;
    const length = chunkLengthOf(record.size, record.chunkSize, index);
    const buffer = new Uint8Array(length);
    active.position = -1;
    active.file.seekSync(index * record.chunkSize, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < length) {
      const n = active.file.readSync(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    active.hash.update(buffer.subarray(0, filled));
    releaseBytes(buffer);
    active.hashedChunks++;
    done++;
  }
}

/**
 * Records which chunks are safely on disk: the bitmap is copied first, then the partial file is
 * synced, then the copy written. Chunks written meanwhile are left for the next checkpoint, so
 * the checkpoint never names a chunk that a crash could lose.
 */
export async function checkpoint(active: ActiveUpload, disk: UploadDisk): Promise<void> {
  await active.checkpointing;
  const { record } = active;
  if (active.sinceCheckpoint === 0) return;
  const held = active.bitmap.toBytes();
  const now = disk.now();
  active.sinceCheckpoint = 0;
  active.lastCheckpoint = now;
  const run = (async () => {
    await active.file.sync();
    await disk.files.writeBitmap(record.computerId, record.uploadId, held);
    if (now - active.lastTouch >= TOUCH_MS) {
      active.lastTouch = now;
      await disk.records.updateUpload(record.computerId, record.uploadId, { updatedAt: now });
    }
  })();
  active.checkpointing = run.catch(() => {});
  await run;
}

/**
 * Checks a chunk's index and declared length against its upload's record.
 *
 * @returns the exact body length expected.
 * @throws {IngestError} 400 `ERR_CHUNK_INVALID`.
 */
export function checkChunk(
  record: UploadRecord,
  index: number,
  declaredLength: number | null,
): number {
  if (index >= record.chunkCount) {
    throw new IngestError(
      400,
      "ERR_CHUNK_INVALID",
      `Cannot accept chunk ${index}: upload ${record.uploadId} has ${record.chunkCount} chunks`,
    );
  }
  const expected = chunkLengthOf(record.size, record.chunkSize, index) +
    chunkOverhead(record.encrypted);
  // The declared length must be the exact one: the HTTP framing then bounds the body.
  if (declaredLength !== expected) {
    throw new IngestError(
      400,
      "ERR_CHUNK_INVALID",
      `Cannot accept chunk ${index}: expected a Content-Length of ${expected} bytes, got ${
        declaredLength ?? "none"
      }`,
    );
  }
  return expected;
}

/** A disposable that frees `bytes` when the scope ends. */
export function releasing(bytes: Uint8Array): Disposable {
  return { [Symbol.dispose]: () => releaseBytes(bytes) };
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

export function ackOf(active: ActiveUpload, result: ChunkAnswer["result"]): ChunkAnswer {
  return {
    result,
    uploadId: active.record.uploadId,
    computerId: active.record.computerId,
    state: "receiving",
    received: active.bitmap.held,
    chunkCount: active.record.chunkCount,
  };
}
