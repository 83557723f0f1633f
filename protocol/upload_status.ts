/**
 * Reading an upload's status as it comes from the network (`GET /api/v1/uploads/<cid>/<uid>`
 * and every manifest's answer): every field checked against the protocol's bounds.
 *
 * @module
 */

import {
  isUploadId,
  MAX_CHUNK_COUNT,
  MAX_STATUS_RANGES,
  type UploadState,
  type UploadStatus,
} from "./upload.ts";

/**
 * Reads a status answer, refusing anything malformed (it comes from the network).
 *
 * @returns the status, or null when the value is not one.
 */
export function readUploadStatus(value: unknown): UploadStatus | null {
  const v = value as Partial<UploadStatus> | null;
  if (typeof v !== "object" || v === null) return null;
  if (!isUploadId(v.uploadId) || !Number.isSafeInteger(v.computerId)) return null;
  if (!["receiving", "complete", "failed", "refused"].includes(v.state as string)) return null;
  const count = v.chunkCount;
  if (!Number.isSafeInteger(count) || count! < 1 || count! > MAX_CHUNK_COUNT) return null;
  if (!Number.isSafeInteger(v.received) || v.received! < 0 || v.received! > count!) return null;
  const stored = v.stored ?? null;
  if (stored !== null && (!Number.isSafeInteger(stored) || stored < 0 || stored > count!)) {
    return null;
  }
  if (!Array.isArray(v.missing) || v.missing.length > MAX_STATUS_RANGES) return null;
  const missing: Array<[number, number]> = [];
  let last = 0;
  for (const range of v.missing) {
    if (!Array.isArray(range) || range.length !== 2) return null;
    const [start, end] = range;
    if (
      !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < last || end <= start ||
      end > count!
    ) return null;
    missing.push([start, end]);
    last = end;
  }
  let error: UploadStatus["error"] = null;
  if (v.error !== null && v.error !== undefined) {
    const code = (v.error as { code?: unknown }).code;
    const message = (v.error as { message?: unknown }).message;
    if (typeof code !== "string" || typeof message !== "string") return null;
    error = { code: code.slice(0, 64), message: message.slice(0, 500) };
  }
  return {
    uploadId: v.uploadId,
    computerId: v.computerId!,
    state: v.state as UploadState,
    chunkCount: count!,
    received: v.received!,
    stored,
    missing,
    missingTruncated: v.missingTruncated === true,
    error,
  };
}
