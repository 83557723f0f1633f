/**
 * The JSON error body every role answers with, `{ error: { code, message } }`: a code of the wire
 * catalogue (`wire_error_codes.ts`) and a message that says what to do. Internal causes go to the
 * log, never into the response. {@linkcode errorBody} is the one writer; {@linkcode readErrorAnswer}
 * the one reader of such a body from the network.
 *
 * @module
 */

import { isWireErrorCode, type WireErrorCode } from "./wire_error_codes.ts";

/** Body of every error response. */
export interface ErrorBody {
  error: { code: WireErrorCode; message: string };
}

/** Longest message kept from a peer's error answer (characters); the rest is cut. */
export const MAX_ERROR_MESSAGE_LENGTH = 500;

/** Longest code kept from a peer's error answer that is not in the catalogue. */
const MAX_UNKNOWN_CODE_LENGTH = 64;

/**
 * What a peer's error answer says: a code of the catalogue, or `unknown` (no error body, or a code
 * this version does not know, kept in `sentCode` only when it looks like a code, for logs).
 * The message is bounded and free of control characters either way.
 */
export type ErrorAnswer =
  | { kind: "known"; code: WireErrorCode; message: string }
  | { kind: "unknown"; sentCode: string | null; message: string };

/**
 * Builds an error body.
 *
 * @example
 * ```ts
 * import { errorBody } from "./http_error.ts";
 * errorBody("ERR_SPOOL_FULL", "Cannot take the report now: retry in 5 s");
 * // { error: { code: "ERR_SPOOL_FULL", message: "Cannot take the report now: retry in 5 s" } }
 * ```
 */
export function errorBody(code: WireErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * Reads a parsed body from the network as an error answer. Never throws: anything but
 * `{ error: { code, message } }` with a catalogue code is the `unknown` case.
 *
 * @example
 * ```ts
 * import { readErrorAnswer } from "./http_error.ts";
 * readErrorAnswer({ error: { code: "ERR_SPOOL_FULL", message: "wait" } });
 * // { kind: "known", code: "ERR_SPOOL_FULL", message: "wait" }
 * readErrorAnswer("<html>"); // { kind: "unknown", sentCode: null, message: "" }
 * ```
 */
export function readErrorAnswer(value: unknown): ErrorAnswer {
  const error = typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as { error?: unknown }).error
    : undefined;
  const fields = typeof error === "object" && error !== null && !Array.isArray(error)
    ? error as { code?: unknown; message?: unknown }
    : {};
  const message = typeof fields.message === "string" ? cleanMessage(fields.message) : "";
  if (isWireErrorCode(fields.code)) return { kind: "known", code: fields.code, message };
  const looksLikeCode = typeof fields.code === "string" &&
    fields.code.length <= MAX_UNKNOWN_CODE_LENGTH && /^[A-Z][A-Z0-9_]*$/.test(fields.code);
  return { kind: "unknown", sentCode: looksLikeCode ? fields.code as string : null, message };
}

/**
 * The catalogue code of an error body, or null when the value is not one (or names a code this
 * version does not know).
 *
 * @example
 * ```ts
 * import { errorCodeOf } from "./http_error.ts";
 * errorCodeOf({ error: { code: "ERR_DUPLICATE_REPORT", message: "stored" } }); // "ERR_DUPLICATE_REPORT"
 * errorCodeOf({ error: { code: "E_UNHEARD_OF", message: "?" } }); // null
 * ```
 */
export function errorCodeOf(value: unknown): WireErrorCode | null {
  const answer = readErrorAnswer(value);
  return answer.kind === "known" ? answer.code : null;
}

// A peer's message reaches logs and terminals: bounded, and no control characters (no escape
// sequences, no forged log lines).
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

function cleanMessage(text: string): string {
  const printable = text.slice(0, MAX_ERROR_MESSAGE_LENGTH * 2).replace(CONTROL_CHARACTERS, " ");
  return printable.length > MAX_ERROR_MESSAGE_LENGTH
    ? `${printable.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…`
    : printable;
}
