/**
 * A full disk is a condition to wait out, not a failure: every role answers a write it cannot
 * persist with 503, `Retry-After` and `ERR_STORAGE_FULL`, so that the sender keeps what it holds
 * and tries again later, and nothing is acknowledged that is not on disk. This module recognises
 * the errors a full disk raises (a file write's `ENOSPC`, SQLite's `SQLITE_FULL`, also when a
 * worker thread passed it on as text) and builds that one answer.
 *
 * @module
 */

import { type ErrorBody, errorBody } from "./http_error.ts";

/** The error code of the answer to a write refused for lack of space. */
export const STORAGE_FULL_CODE = "ERR_STORAGE_FULL";

/** Seconds a sender is asked to wait before sending again to a role whose disk is full. */
export const STORAGE_FULL_RETRY_AFTER_SECONDS = 15;

// Deno and node:fs name ENOSPC in `code`; SQLite says "database or disk is full" (SQLITE_FULL),
// and an error that crossed a worker thread keeps only its message.
const FULL_MESSAGES = /No space left on device|database or disk is full|\bENOSPC\b|\bEDQUOT\b/;

/**
 * Whether `error` (or an error it was caused by) says the disk is full.
 *
 * @example
 * ```ts
 * import { isStorageFull } from "./storage_full.ts";
 * isStorageFull(Object.assign(new Error("write failed"), { code: "ENOSPC" })); // true
 * isStorageFull(new Error("database or disk is full")); // true
 * isStorageFull(new TypeError("bad input")); // false
 * ```
 */
export function isStorageFull(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 4; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (code === "ENOSPC" || code === "EDQUOT") return true;
    if (FULL_MESSAGES.test(cause.message)) return true;
    cause = cause.cause;
  }
  return false;
}

/** The 503 answer to a write that a full disk refused: its body and headers. */
export function storageFullAnswer(): {
  body: ErrorBody;
  status: 503;
  headers: Record<string, string>;
} {
  return {
    body: errorBody(
      STORAGE_FULL_CODE,
      `Cannot store this request now: this host's disk is full; keep what you sent and retry in ` +
        `${STORAGE_FULL_RETRY_AFTER_SECONDS} s (the operator must free space)`,
    ),
    status: 503,
    headers: { "retry-after": String(STORAGE_FULL_RETRY_AFTER_SECONDS) },
  };
}
