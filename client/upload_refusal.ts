/**
 * What a parent's refusal of an upload's manifest or chunk means to the client: the one reading
 * of it, as a discriminated union the uploader acts on (`uploader.ts`).
 *
 * @module
 */

import { readErrorAnswer } from "../protocol/http_error.ts";
import type { WireErrorCode } from "../protocol/wire_error_codes.ts";

/** A refusal of an upload, read. */
export type UploadRefusal =
  /** The parent lost the upload (a new server, a wiped relay): post the manifest again. */
  | { kind: "unknown-upload"; said: string }
  /** The server's quota is full for now: stop, keep the upload queued for a later cycle. */
  | { kind: "quota-full"; said: string }
  /**
   * The manifest cannot be used any more (key retired, chunks too large, encryption refused):
   * make a new one (new upload id, new file key) at the next attempt.
   */
  | { kind: "new-manifest"; why: string; said: string }
  /** The server refused this computer (unknown, revoked): keep the upload queued. */
  | { kind: "sender-refused"; said: string }
  /** A failing parent: try again later. */
  | { kind: "try-later"; status: number; said: string }
  /** Refused for good: the upload fails. */
  | { kind: "failed"; code: WireErrorCode | null; status: number; said: string };

/**
 * Reads a refusal (any answer but 2xx, 429 and 503, which are waited out).
 *
 * @example
 * ```ts
 * import { readUploadRefusal } from "./upload_refusal.ts";
 * const body = { error: { code: "ERR_UNKNOWN_KEY_ID", message: "retired" } };
 * readUploadRefusal({ status: 400, body }).kind; // "new-manifest"
 * ```
 */
export function readUploadRefusal(answer: { status: number; body: unknown }): UploadRefusal {
  const error = readErrorAnswer(answer.body);
  const code = error.kind === "known" ? error.code : null;
  const said = error.message === "" ? `HTTP ${answer.status}` : error.message;
  switch (code) {
    case "ERR_UNKNOWN_UPLOAD":
      if (answer.status === 404) return { kind: "unknown-upload", said };
      break;
    case "ERR_UPLOAD_QUOTA_EXCEEDED":
      return { kind: "quota-full", said };
    case "ERR_UNKNOWN_KEY_ID":
      return { kind: "new-manifest", why: "the server no longer has that key", said };
    case "ERR_CHUNK_TOO_LARGE":
      return { kind: "new-manifest", why: "the server wants smaller chunks", said };
    case "ERR_ENCRYPTION_NOT_SUPPORTED":
      return { kind: "new-manifest", why: "the parent refused an encrypted upload", said };
    case "ERR_UNKNOWN_COMPUTER":
    case "ERR_COMPUTER_REVOKED":
      return { kind: "sender-refused", said };
  }
  if (answer.status >= 500 || answer.status === 408) {
    return { kind: "try-later", status: answer.status, said };
  }
  return { kind: "failed", code, status: answer.status, said };
}
