/**
 * Sweeping the uploads of a data dir: at start, uploads that received nothing for too long
 * expire, uploads a crash interrupted while being stored are finished, and folders no record
 * owns are removed; then, hourly, idle uploads expire. Uploads in progress on another server are
 * left to it.
 *
 * @module
 */

import { keyOf, type OpenUploads } from "./open_uploads.ts";
import type { UploadDisk } from "./upload_chunk_writer.ts";

/** What sweeping needs. */
export interface UploadSweepOptions {
  uploads: OpenUploads;
  disk: UploadDisk;
  /** Uploads that received nothing for longer than this expire. */
  staleAfterMs: number;
}

const EXPIRED = ["ERR_UPLOAD_EXPIRED", "no chunk arrived for too long"] as const;

/**
 * Expires stale uploads, finishes those a crash interrupted while being stored, and removes the
 * folders no record owns (run once, before the upload routes serve).
 */
export async function sweepUploads(
  { uploads, disk, staleAfterMs }: UploadSweepOptions,
): Promise<void> {
  const now = disk.now();
  const owned = new Set<string>();
  for (const state of ["receiving", "finalizing"] as const) {
    for (const record of await disk.records.listUploadsIn(state)) {
      // Another server's partial files are its own business; its folders here are not owned.
      if (uploads.heldElsewhere(record)) continue;
      const { computerId: cid, uploadId: uid } = record;
      if (state === "receiving" && record.updatedAt < now - staleAfterMs) {
        await uploads.markFailed(record, ...EXPIRED);
        disk.log.info("upload expired", { cid, uid });
        continue;
      }
      owned.add(keyOf(cid, uid));
      if (state === "finalizing") {
        await uploads.withLock(cid, uid, () => uploads.load(cid, uid, true)).catch((error) =>
          disk.log.warn("cannot finish storing an upload", {
            cid,
            uid,
            cause: (error as Error).message,
          })
        );
      }
    }
  }
  for (const [cid, uid] of await disk.files.listIncoming()) {
    if (!owned.has(keyOf(cid, uid))) await disk.files.removeIncoming(cid, uid);
  }
}

/** Expires the uploads that received nothing for longer than the stale time (run hourly). */
export async function expireStaleUploads(
  { uploads, disk, staleAfterMs }: UploadSweepOptions,
): Promise<void> {
  const cutoff = disk.now() - staleAfterMs;
  for (const record of await disk.records.listUploadsIn("receiving")) {
    if (record.updatedAt >= cutoff || uploads.heldElsewhere(record)) continue;
    const { computerId: cid, uploadId: uid } = record;
    await uploads.withLock(cid, uid, async () => {
      const active = uploads.cached(cid, uid);
      if (active && (active.busy > 0 || active.lastTouch >= cutoff)) return;
      await uploads.markFailed(record, ...EXPIRED);
      disk.log.info("upload expired", { cid, uid });
    });
  }
}
