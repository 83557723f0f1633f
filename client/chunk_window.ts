/**
 * The chunk window of one upload: the missing chunks read from the snapshot, sealed (or signed in
 * clear) and put a few at a time, paced under the throttle; a busy parent is waited out and the
 * same chunk put again; a parent that lost the upload gets the manifest again.
 *
 * @module
 */

import { sealChunk, signClearChunk } from "../envelope/upload_chunk.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { API } from "../protocol/paths.ts";
import type { UploadStatus } from "../protocol/upload.ts";
import { releaseBytes } from "../protocol/release_bytes.ts";
import type { UploadAnswer } from "../protocol/upload_fetch.ts";
import { sleep, waitIfParentBusy } from "./parent_busy_wait.ts";
import type { SnapshotReader } from "./snapshot_reader.ts";
import type { MadeManifest } from "./upload_queue.ts";
import { readUploadRefusal, type UploadRefusal } from "./upload_refusal.ts";
import {
  isUploadStatus,
  timeUpResult,
  unreachableResult,
  type UploadResult,
} from "./upload_result.ts";

/** What the window needs from the upload's session. */
export interface ChunkWindowJob {
  manifest: MadeManifest;
  /** The chunk key derived from the file key; null sends the chunks in clear, signed. */
  chunkKey: CryptoKey | null;
  signingKey: CryptoKey;
  snapshot: SnapshotReader;
  /** Chunks in flight at once. */
  window: number;
  /** The pace limit in KiB per second; 0 for none. */
  throttleKBPS: number;
  /** When to stop (milliseconds since the epoch). */
  deadline: number;
  /** Puts one chunk; throws `ParentUnreachableError` when the parent does not answer. */
  put(path: string, body: Uint8Array<ArrayBuffer>): Promise<UploadAnswer>;
  /** Posts the manifest again after the parent lost the upload (once for all chunks). */
  repostManifest(): Promise<UploadStatus | UploadResult>;
  /** What a refusal means for the upload (it may fail it). */
  refused(refusal: UploadRefusal): Promise<UploadResult>;
  /** Called as each chunk is acknowledged. */
  onAcked(): void;
}

/** What one pass of the window did: chunks acknowledged, and why it stopped early if it did. */
export interface ChunkWindowPass {
  sent: number;
  stop: UploadResult | null;
}

/**
 * Sends the chunks `indexes` through the window; stops at the first chunk whose put ends the
 * attempt (refused, quota full, unreachable, time up), after the chunks in flight are answered.
 *
 * @example
 * ```ts ignore
 * const { sent, stop } = await sendChunkWindow(job, [0, 1, 2]);
 * if (stop) return stop;
 * ```
 */
export async function sendChunkWindow(
  job: ChunkWindowJob,
  indexes: Iterable<number>,
): Promise<ChunkWindowPass> {
  const window = Math.max(1, job.window);
  const inFlight = new Set<Promise<void>>();
  let stop: UploadResult | null = null;
  let sent = 0;
  const started = performance.now();
  let scheduledBytes = 0;
  for (const index of indexes) {
    if (stop) break;
    if (Date.now() > job.deadline) {
      stop = timeUpResult();
      break;
    }
    if (job.throttleKBPS > 0) {
      // Pace by what has been handed to the network so far: the average never exceeds the limit.
      const due = started + (scheduledBytes / (job.throttleKBPS * 1024)) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const plaintext = job.snapshot.read(index);
    scheduledBytes += plaintext.length;
    const task = sendChunk(job, index, plaintext).then((result) => {
      if (result !== null) stop ??= result;
      else {
        sent++;
        job.onAcked();
      }
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
    while (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { sent, stop };
}

/** Seals (or signs) and puts one chunk; null when the parent took it. */
async function sendChunk(
  job: ChunkWindowJob,
  index: number,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<UploadResult | null> {
  const { manifest } = job;
  const chunkContext = {
    cid: manifest.cid,
    uid: manifest.uid,
    index,
    final: index === manifest.chunkCount - 1,
  };
  const body = job.chunkKey
    ? await sealChunk(job.chunkKey, chunkContext, plaintext)
    : await signClearChunk(job.signingKey, chunkContext, plaintext);
  job.snapshot.spare(plaintext);
  try {
    return await putChunk(job, index, body);
  } finally {
    releaseBytes(body);
  }
}

async function putChunk(
  job: ChunkWindowJob,
  index: number,
  body: Uint8Array<ArrayBuffer>,
): Promise<UploadResult | null> {
  const path = `${API.uploads}/${job.manifest.cid}/${job.manifest.uid}/${index}`;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    let answer: UploadAnswer;
    try {
      answer = await job.put(path, body);
    } catch (error) {
      if (error instanceof ParentUnreachableError) return unreachableResult(error);
      throw error;
    }
    if (answer.status >= 200 && answer.status < 300) return null;
    const waited = await waitIfParentBusy(answer, job.deadline);
    if (waited === "waited") continue;
    if (waited === "timeout") return timeUpResult();
    const refusal = readUploadRefusal(answer);
    if (refusal.kind === "unknown-upload") {
      // The parent lost the upload (a new server, a wiped relay): post the manifest again.
      const reposted = await job.repostManifest();
      if (!isUploadStatus(reposted)) return reposted;
      if (attempt < 3) continue;
    }
    if (refusal.kind === "quota-full") {
      // The server took the manifest and keeps what it received: room comes back as other
      // uploads finish, expire or are removed. Stop for now; the next cycle tries again.
      return {
        outcome: "pending",
        message:
          `the server's upload quota is full for now; the upload stays queued: ${refusal.said}`,
      };
    }
    return await job.refused(refusal);
  }
  return timeUpResult();
}
