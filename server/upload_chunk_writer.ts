/**
 * An upload in progress on the server, and what it takes to write its chunks: the partial file
 * at each chunk's offset, the running SHA-256 (chunks that arrive early are hashed later, read
 * back from the partial file), and checkpoints (sync, the bytes received written to the upload's
 * record for the quotas, then a chunk bitmap) that say what survives a crash.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { createSha256, type IncrementalSha256 } from "../protocol/incremental_sha256.ts";
import { chunkLengthOf, chunkOverhead, type UploadStatus } from "../protocol/upload.ts";
import { type ChunkBitmap } from "../protocol/chunk_bitmap.ts";
import { releaseBytes } from "../protocol/release_bytes.ts";
import type { UploadRecord, UploadRecords } from "../store/upload_records.ts";
import { IngestError } from "./ingest_error.ts";
import type { UploadQuota } from "./upload_quota.ts";
import type { UploadFiles } from "./upload_store.ts";

/** Where uploads live: their folders, their records, the quotas, the log and the clock. */
export interface UploadDisk {
  files: UploadFiles;
  records: UploadRecords;
  quota: UploadQuota;
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
  /** Bytes of the chunks written (the bitmap's). */
  receivedBytes: number;
  /** Bytes received as the upload's record says (its last checkpoint's). */
  persistedBytes: number;
  hashedChunks: number;
  sinceCheckpoint: number;
  lastCheckpoint: number;
  /** The checkpoint being written, if any (one at a time). */
  checkpointing: Promise<void>;
  lastTouch: number;
  busy: number;
}

/**
 * An upload opened for chunks: new, or loaded again with the chunks its bitmap names (whose
 * bytes its record counts).
 */
export function activeUpload(
  record: UploadRecord,
  opened: Pick<ActiveUpload, "chunkKey" | "bitmap" | "file" | "receivedBytes" | "lastTouch">,
  now: number,
): ActiveUpload {
  return {
    record,
    ...opened,
    position: -1,
    hash: createSha256(),
    persistedBytes: opened.receivedBytes,
    hashedChunks: 0,
    sinceCheckpoint: 0,
    lastCheckpoint: now,
    checkpointing: Promise.resolve(),
    busy: 0,
  };
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
  active.receivedBytes += plaintext.length;
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
 * the checkpoint never names a chunk that a crash could lose. Checkpoints run one after the
 * other, so the record and the bitmap only ever move forward.
 */
export function checkpoint(active: ActiveUpload, disk: UploadDisk): Promise<void> {
  if (active.sinceCheckpoint === 0) return active.checkpointing;
  active.sinceCheckpoint = 0;
  active.lastCheckpoint = disk.now();
  const { record } = active;
  const run = active.checkpointing.then(async () => {
    const held = active.bitmap.toBytes();
    const received = active.receivedBytes;
    const now = disk.now();
    await active.file.sync();
    // The record before the bitmap: after a crash between the two it counts more than the
    // bitmap holds (corrected when the upload is loaded again), never less.
    if (received !== active.persistedBytes) {
      active.lastTouch = now;
      await settleReceived(active, disk, received, now);
    } else if (now - active.lastTouch >= TOUCH_MS) {
      active.lastTouch = now;
      await disk.records.updateUpload(record.computerId, record.uploadId, { updatedAt: now });
    }
    await disk.files.writeBitmap(record.computerId, record.uploadId, held);
  });
  active.checkpointing = run.catch(() => {});
  return run;
}

/**
 * Writes the bytes received down in the upload's record (what the quotas count), and stops
 * counting them in memory.
 */
export async function settleReceived(
  active: ActiveUpload,
  disk: UploadDisk,
  received: number,
  now: number,
): Promise<void> {
  const { computerId: cid, uploadId: uid } = active.record;
  const persisted = active.persistedBytes;
  await disk.quota.settle(
    cid,
    uid,
    received - persisted,
    () => disk.records.updateUpload(cid, uid, { receivedBytes: received, updatedAt: now }),
  );
  active.persistedBytes = received;
}

/** Bytes of file data the chunks a bitmap names hold. */
export function heldBytes(record: UploadRecord, bitmap: ChunkBitmap): number {
  const last = record.chunkCount - 1;
  const short = bitmap.has(last)
    ? record.chunkSize - chunkLengthOf(record.size, record.chunkSize, last)
    : 0;
  return bitmap.held * record.chunkSize - short;
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
