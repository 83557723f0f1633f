/**
 * An upload's `state.json` in the relay's upload buffer (`relay/upload_buffer.ts`): whether its
 * manifest reached the parent, whether the parent refused it for good (and how), whether it is
 * complete, and when it was first buffered. Pure: the buffer reads and writes the file.
 *
 * @module
 */

import { isWireErrorCode, type WireErrorCode } from "../protocol/wire_error_codes.ts";

/** A refusal for good, as the parent said it: the status, its `ERR_` code and its message. */
export interface UploadRefusal {
  status: number;
  code: WireErrorCode;
  message: string;
}

/** What `state.json` says of one buffered upload. */
export interface UploadState {
  manifestDelivered: boolean;
  refused: UploadRefusal | null;
  complete: boolean;
  createdAt: number;
}

/** The text of `state.json` for `state`. */
export function encodeUploadState(state: UploadState): string {
  const { manifestDelivered, refused, complete, createdAt } = state;
  return JSON.stringify({ manifestDelivered, refused, complete, createdAt });
}

/**
 * Reads `state.json` (null: there is none). Whatever is missing or not what it should be takes
 * the value that retries: the manifest not delivered, no refusal, not complete; `createdAt` then
 * `now`.
 *
 * @example
 * ```ts
 * import { readUploadState } from "./upload_state_file.ts";
 * console.log(readUploadState(null, 5).manifestDelivered); // false
 * ```
 */
export function readUploadState(text: string | null, now: number): UploadState {
  let value: Record<string, unknown> = {};
  try {
    const parsed = text === null ? null : JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) value = parsed;
  } catch {
    // A torn or foreign file: start from the defaults.
  }
  return {
    manifestDelivered: value.manifestDelivered === true,
    refused: readRefusal(value.refused),
    complete: value.complete === true,
    createdAt: typeof value.createdAt === "number" ? value.createdAt : now,
  };
}

function readRefusal(value: unknown): UploadRefusal | null {
  if (typeof value !== "object" || value === null) return null;
  const { status, code, message } = value as Record<string, unknown>;
  if (typeof status !== "number" || typeof message !== "string") return null;
  return { status, code: isWireErrorCode(code) ? code : "ERR_UPLOAD_REFUSED", message };
}
