/**
 * What a parent's answer to an upload request means for the relay's buffer: one chunk's
 * ({@linkcode classifyChunkAnswer}, for the pump and the cut-through alike) and whether any
 * answer is a "later" ({@linkcode isRetryable}).
 *
 * @module
 */

import { errorCodeOf } from "../protocol/http_error.ts";
import type { UploadAnswer } from "../protocol/upload_fetch.ts";

/** How the parent answered one chunk (see {@linkcode classifyChunkAnswer}). */
export type ChunkVerdict =
  /** The parent has the chunk (2xx); `body` is its answer. */
  | { kind: "taken"; body: unknown; complete: boolean }
  /** The parent does not know the upload: its manifest must be posted again. */
  | { kind: "unknown-upload" }
  /** No usable answer now (timeout, 408, 429, 5xx, unreachable): keep the chunk, back off. */
  | { kind: "retry"; reason: string; retryAfterMs: number | null }
  /** This chunk is bad (it does not open at the server): the client sends it again. */
  | { kind: "chunk-refused"; code: string }
  /** The upload is refused for good. */
  | { kind: "upload-refused"; answer: UploadAnswer };

const CHUNK_REFUSALS = new Set([
  "ERR_DECRYPTION_FAILED",
  "ERR_SIGNATURE_INVALID",
  "ERR_CHUNK_INVALID",
]);

/**
 * Reads the parent's answer to a chunk `PUT`.
 *
 * @example
 * ```ts
 * import { classifyChunkAnswer } from "./chunk_verdict.ts";
 * const verdict = classifyChunkAnswer({ status: 503, body: null, retryAfterMs: 1000 });
 * console.log(verdict.kind); // "retry"
 * ```
 */
export function classifyChunkAnswer(answer: UploadAnswer): ChunkVerdict {
  if (answer.status >= 200 && answer.status < 300) {
    const complete = (answer.body as { state?: unknown } | null)?.state === "complete";
    return { kind: "taken", body: answer.body, complete };
  }
  const code = errorCodeOf(answer.body);
  if (answer.status === 404 && code === "ERR_UNKNOWN_UPLOAD") return { kind: "unknown-upload" };
  if (isRetryable(answer.status)) {
    return {
      kind: "retry",
      reason: `parent answered ${answer.status}`,
      retryAfterMs: answer.retryAfterMs,
    };
  }
  if (code !== null && CHUNK_REFUSALS.has(code)) return { kind: "chunk-refused", code };
  return { kind: "upload-refused", answer };
}

/** Whether an answer means "later": a timeout, busy (408, 429) or failing (5xx) parent. */
export function isRetryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
