/**
 * How an upload ends on the server, and what its status says: stored (hash compared, the file
 * linked in place, never replacing anything, and recorded) or failed (recorded, its data
 * deleted).
 *
 * @module
 */

import { MAX_STATUS_RANGES, type UploadStatus } from "../protocol/upload.ts";
import { sanitizeUploadName } from "../protocol/upload_name.ts";
import { ChunkBitmap } from "../protocol/chunk_bitmap.ts";
import type { UploadRecord } from "../store/upload_records.ts";
import { IngestError } from "./ingest_error.ts";
import {
  type ActiveUpload,
  catchUpHash,
  type ChunkAnswer,
  settleReceived,
  type UploadDisk,
} from "./upload_chunk_writer.ts";

/**
 * Stores an upload whose chunks are all in: finishes the hash, compares it with the declared
 * one, then links the file in place and records it complete, or records the failure. Closes the
 * partial file either way.
 */
export async function finalizeUpload(active: ActiveUpload, disk: UploadDisk): Promise<void> {
  const { record } = active;
  const { computerId: cid, uploadId: uid } = record;
  catchUpHash(active, Number.POSITIVE_INFINITY);
  await active.checkpointing;
  await active.file.sync();
  await disk.files.writeBitmap(cid, uid, active.bitmap.toBytes());
  // Every byte in the record before it turns stored (size counted either way from then on).
  if (active.receivedBytes !== active.persistedBytes) {
    await settleReceived(active, disk, active.receivedBytes, disk.now());
  }
  const digest = active.hash.digestHex();
  active.file.close();
  if (digest !== record.sha256) {
    await recordFailure(
      disk,
      record,
      "ERR_UPLOAD_HASH_MISMATCH",
      "the file's SHA-256 differs from the one the client declared",
    );
    disk.log.warn("upload refused: hash mismatch", { cid, uid });
    return;
  }
  const name = sanitizeUploadName(record.declaredName);
  const storedName = await disk.files.place(
    cid,
    uid,
    name,
    record.state === "finalizing" ? record.storedName : null,
    async (candidate) => {
      await disk.records.updateUpload(cid, uid, {
        state: "finalizing",
        storedName: candidate,
        updatedAt: disk.now(),
      });
    },
  );
  const now = disk.now();
  await disk.records.updateUpload(cid, uid, {
    state: "complete",
    storedName,
    completedAt: now,
    updatedAt: now,
  });
  await disk.files.removeIncoming(cid, uid);
  disk.log.info("upload stored", { cid, uid, size: record.size, name: storedName });
}

/** Records an upload as failed (`code: message`) and deletes its data. */
export async function recordFailure(
  disk: UploadDisk,
  record: UploadRecord,
  code: string,
  message: string,
): Promise<void> {
  const { computerId: cid, uploadId: uid } = record;
  await disk.records.updateUpload(cid, uid, {
    state: "failed",
    error: `${code}: ${message}`,
    updatedAt: disk.now(),
  });
  disk.quota.forget(cid, uid);
  await disk.files.removeIncoming(cid, uid);
}

/** The answer to a chunk of an upload that already ended (an `ERR_UPLOAD_FAILED` if it failed). */
export function finalAnswer(
  record: UploadRecord,
  result: "stored" | "duplicate" = "duplicate",
): ChunkAnswer {
  if (record.state === "failed") {
    const { code, message } = splitError(record.error);
    throw new IngestError(409, "ERR_UPLOAD_FAILED", `Upload failed: ${code}: ${message}`);
  }
  const status = statusOf(record, null);
  return {
    result,
    uploadId: record.uploadId,
    computerId: record.computerId,
    state: status.state,
    received: status.received,
    chunkCount: record.chunkCount,
  };
}

/** Builds the status of an upload from its record and, while receiving, its bitmap. */
export function statusOf(record: UploadRecord, bitmap: ChunkBitmap | null): UploadStatus {
  const base = {
    uploadId: record.uploadId,
    computerId: record.computerId,
    chunkCount: record.chunkCount,
  };
  if (record.state === "complete") {
    return {
      ...base,
      state: "complete",
      received: record.chunkCount,
      stored: record.chunkCount,
      missing: [],
      missingTruncated: false,
      error: null,
    };
  }
  if (record.state === "failed") {
    return {
      ...base,
      state: "failed",
      received: 0,
      stored: 0,
      missing: [],
      missingTruncated: false,
      error: splitError(record.error),
    };
  }
  const held = bitmap ?? new ChunkBitmap(record.chunkCount);
  const { ranges, truncated } = held.missingRanges(MAX_STATUS_RANGES);
  return {
    ...base,
    state: "receiving",
    received: held.held,
    stored: held.held,
    missing: ranges,
    missingTruncated: truncated,
    error: null,
  };
}

function splitError(error: string | null): { code: string; message: string } {
  const text = error ?? "ERR_UPLOAD_FAILED: failed";
  const index = text.indexOf(": ");
  return index < 0
    ? { code: "ERR_UPLOAD_FAILED", message: text }
    : { code: text.slice(0, index), message: text.slice(index + 2) };
}
