/**
 * How sending one upload ended, as the uploader and its chunk window answer it, and the answers
 * both give alike (time up, parent unreachable).
 *
 * @module
 */

import type { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import type { UploadStatus } from "../protocol/upload.ts";

/** How sending an upload ended. */
export interface UploadResult {
  /**
   * - complete: the server stored the file and checked its hash;
   * - failed: refused for good (the reason is in the upload's state);
   * - held: encryption is required and not possible now; nothing was sent;
   * - pending: not finished yet (busy parent, time up, waiting for the server); try again;
   * - unreachable: the parent did not answer.
   */
  outcome: "complete" | "failed" | "held" | "pending" | "unreachable";
  message: string;
  /** What to do about a hold. */
  hint?: string;
}

/**
 * The session's time is up: the upload resumes at the next one.
 *
 * @example
 * ```ts
 * import { timeUpResult } from "./upload_result.ts";
 * console.log(timeUpResult().outcome); // "pending"
 * ```
 */
export function timeUpResult(): UploadResult {
  return { outcome: "pending", message: "time is up for now; the upload will resume" };
}

/**
 * The parent did not answer: the upload stays queued.
 *
 * @example
 * ```ts ignore
 * return unreachableResult(error);
 * ```
 */
export function unreachableResult(error: ParentUnreachableError): UploadResult {
  return { outcome: "unreachable", message: `${error.message}; the upload stays queued` };
}

/**
 * Whether a step gave the upload's status (go on) rather than how sending ended (stop).
 *
 * @example
 * ```ts ignore
 * const next = await session.status(manifest);
 * if (!isUploadStatus(next)) return next;
 * ```
 */
export function isUploadStatus(value: UploadStatus | UploadResult): value is UploadStatus {
  return (value as UploadStatus).uploadId !== undefined;
}
