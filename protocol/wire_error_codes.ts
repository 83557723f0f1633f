/**
 * Every error code that crosses the wire between server, relays, clients and the web console:
 * one catalogue, so that a misspelt code is a compile error where it is sent and where it is
 * compared. Each entry names the HTTP statuses it is sent with (`null`: it travels inside a 200
 * answer, e.g. a failed upload's status or one report of a batch).
 *
 * Codes that never leave a process stay out: the key files' `ERR_SECRET_FILE_INSECURE`,
 * `ERR_KEY_FILE_EXISTS` and `ERR_WRONG_PASSWORD` ({@linkcode LocalOnlyErrorCode}), the store's
 * `ERR_DATABASE_TOO_NEW`, and the argument parser's `ERR_PARSE_ARGS_*`.
 *
 * @module
 */

import type { MleErrorCode } from "../envelope/errors.ts";

/** The catalogue: each wire code with the statuses it goes with. */
export const WIRE_ERRORS = {
  // Any request.
  /** The request lacks or misstates a parameter (a computer id, an index). */
  ERR_BAD_REQUEST: { status: [400] },
  /** No such path (or document) on this host. */
  ERR_NOT_FOUND: { status: [404] },
  /** The path exists, the method does not. */
  ERR_METHOD_NOT_ALLOWED: { status: [405] },
  /** The body is over the limit for this path. */
  ERR_TOO_LARGE: { status: [413] },
  /** An unexpected failure; the message carries the request id to find the cause in the log. */
  ERR_INTERNAL: { status: [500] },
  /** A bounded queue (RSA work) is full: retry after `Retry-After`. */
  ERR_RETRY_LATER: { status: [503] },
  /** The host's disk is full: keep what was sent and retry after `Retry-After`. */
  ERR_STORAGE_FULL: { status: [503] },
  /** The server cannot reach its database: retry after `Retry-After`. */
  ERR_DATABASE_UNAVAILABLE: { status: [503] },

  // Envelopes, documents and keys (the envelope's own codes, as a receiver answers them).
  /** The envelope, JWS or batch cannot be read (shape, encoding, claims). */
  ERR_ENVELOPE_MALFORMED: { status: [400, null] },
  /** The envelope cannot be decrypted: deliberately opaque (RFC 7516 §11.5). */
  ERR_DECRYPTION_FAILED: { status: [400, null] },
  /** The envelope names an encryption key this site does not hold (or retired). */
  ERR_UNKNOWN_KEY_ID: { status: [400, null] },
  /** A signature does not verify against the key it claims. */
  ERR_SIGNATURE_INVALID: { status: [403, null] },
  /** A signed document (registration, settings, decision) cannot be read or verified. */
  ERR_DOCUMENT_INVALID: { status: [400, null] },
  /** A public key in the request cannot be used. */
  ERR_KEY_INVALID: { status: [400, null] },
  /** The server holds the key but cannot use it yet (still loading): retry later. */
  ERR_KEY_UNAVAILABLE: { status: [503] },

  // Senders.
  /** The computer is not registered (or was removed): register again. */
  ERR_UNKNOWN_COMPUTER: { status: [403, 404, null] },
  /** The computer was revoked by an operator: rotate the client's keys to register anew. */
  ERR_COMPUTER_REVOKED: { status: [403, null] },
  /** The computer was replaced by a key rotation's hand-over. */
  ERR_COMPUTER_REPLACED: { status: [403, null] },
  /** A registration signed too long ago: make a new one. */
  ERR_REGISTRATION_EXPIRED: { status: [400] },
  /** A registration's hand-over from an old key does not verify. */
  ERR_HANDOVER_INVALID: { status: [403] },
  /** An authenticating relay admits only clients that did the manual key exchange. */
  ERR_KEY_EXCHANGE_REQUIRED: { status: [403] },
  /** The key exchange's proof or one-time password was wrong or used. */
  ERR_KEY_EXCHANGE_FAILED: { status: [403] },
  /** The relay cannot check key exchanges yet: retry later. */
  ERR_KEY_EXCHANGE_NOT_READY: { status: [503] },
  /** Too many failed key exchanges from this address: wait `Retry-After`. */
  ERR_TOO_MANY_ATTEMPTS: { status: [429] },
  /** A relay asked for clients' keys without its signed request. */
  ERR_RELAY_AUTH_REQUIRED: { status: [403] },
  /** A relay's signed request is too old. */
  ERR_RELAY_AUTH_EXPIRED: { status: [403] },
  /** A relay's signed request does not verify. */
  ERR_RELAY_AUTH_INVALID: { status: [403] },
  /** The relay is not allowed to send bundles or read keys (`admin relays allow`). */
  ERR_RELAY_NOT_ALLOWED: { status: [403] },
  /** A decrypting relay's record of itself: the path does not name the body's SHA-256. */
  ERR_RELAY_RECORD_DIGEST: { status: [400] },
  /** A decrypting relay's record of itself is not {name, url, kids} within bounds. */
  ERR_RELAY_RECORD_INVALID: { status: [400] },

  // Reports.
  /** The report itself (inside the envelope) is not a valid report. */
  ERR_REPORT_INVALID: { status: [400, null] },
  /** This report is already stored: every sender treats it as delivered. */
  ERR_DUPLICATE_REPORT: { status: [409, null] },
  /** A different report is already stored under this computer and sequence number. */
  ERR_REPORT_CONFLICT: { status: [409, null] },
  /** A batch of reports cannot be read: send each alone. */
  ERR_BATCH_MALFORMED: { status: [400] },
  /** The site's policy refuses clear-text reports: encrypt. */
  ERR_CLEAR_TEXT_REFUSED: { status: [403] },
  /** This host does not take encrypted messages (a legacy relay). */
  ERR_ENCRYPTION_NOT_SUPPORTED: { status: [415] },
  /** The computer sent too many new content keys: wait `Retry-After`. */
  ERR_TOO_MANY_NEW_KEYS: { status: [429] },
  /** The relay's spool (or this computer's share of it) is full: retry after `Retry-After`. */
  ERR_SPOOL_FULL: { status: [503] },

  // Documents a parent serves.
  /** The server has no masthead: the site was not initialised. */
  ERR_NO_MASTHEAD: { status: [404] },
  /** Encryption was never enabled: there is no certificate. */
  ERR_NO_CERTIFICATE: { status: [404] },
  /** No computer was ever revoked: there is no revocation list. */
  ERR_NO_REVOCATIONS: { status: [404] },
  /** No key rotation is requested for this computer. */
  ERR_NO_ROTATION: { status: [404] },
  /** The relay's parent does not answer: retry later. */
  ERR_PARENT_UNREACHABLE: { status: [503] },
  /** The relay's parent gave an answer the relay cannot use: retry later. */
  ERR_PARENT_BAD_ANSWER: { status: [502, 503] },

  // Uploads.
  /** The server does not know this upload (expired or never started): start it again. */
  ERR_UNKNOWN_UPLOAD: { status: [404] },
  /** An upload with this id exists with a different manifest. */
  ERR_UPLOAD_CONFLICT: { status: [409] },
  /** The upload manifest cannot be read or is inconsistent. */
  ERR_MANIFEST_INVALID: { status: [400] },
  /** A chunk is not the one expected (index, length, seal). */
  ERR_CHUNK_INVALID: { status: [400] },
  /** The upload's chunk size is over this host's limit. */
  ERR_CHUNK_TOO_LARGE: { status: [400] },
  /** The upload is over the computer's or the server's quota. */
  ERR_UPLOAD_QUOTA_EXCEEDED: { status: [413] },
  /** The upload failed for good; the message (or the status's error) says why. */
  ERR_UPLOAD_FAILED: { status: [409, null] },
  /** A parent refused an upload a relay buffered (in the relay's upload status). */
  ERR_UPLOAD_REFUSED: { status: [null] },
  /** The uploaded file's SHA-256 is not the manifest's (in a failed upload's status). */
  ERR_UPLOAD_HASH_MISMATCH: { status: [null] },
  /** The server lost the partial file (in a failed upload's status). */
  ERR_UPLOAD_LOST: { status: [null] },
  /** No chunk arrived for too long (in a failed upload's status). */
  ERR_UPLOAD_EXPIRED: { status: [null] },

  // The web console (answered to a browser).
  /** Not signed in, or the session ended. */
  ERR_SESSION_EXPIRED: { status: [401] },
  /** The form's CSRF token is missing or wrong: reload the page. */
  ERR_CSRF_TOKEN: { status: [403] },
  /** The signed-in user's role may not do this. */
  ERR_FORBIDDEN_ROLE: { status: [403] },
  /** The console's form body is over its limit. */
  ERR_BODY_TOO_LARGE: { status: [413] },
  /** A decision signed in the browser cannot be recorded as it stands. */
  ERR_DECISION_INVALID: { status: [400] },
  /** A decision was signed against a state that changed since: reload and sign again. */
  ERR_DECISION_STALE: { status: [409] },
  /** No completed upload with this id. */
  ERR_UPLOAD_NOT_FOUND: { status: [404] },
} as const satisfies Record<`ERR_${string}`, { status: readonly (number | null)[] }>;

/** A code that may cross the wire. */
export type WireErrorCode = keyof typeof WIRE_ERRORS;

/** The HTTP statuses a code is sent with (`null`: inside a 200 answer). */
export type WireErrorStatus<C extends WireErrorCode> = (typeof WIRE_ERRORS)[C]["status"][number];

/** Every wire code, in catalogue order. */
export const WIRE_ERROR_CODES: readonly WireErrorCode[] = Object.freeze(
  Object.keys(WIRE_ERRORS) as WireErrorCode[],
);

/** Codes of the envelope's error family that never leave a process (key files, passwords). */
export type LocalOnlyErrorCode = Exclude<MleErrorCode, WireErrorCode>;

/**
 * Whether `value` is a wire code.
 *
 * @example
 * ```ts
 * import { isWireErrorCode } from "./wire_error_codes.ts";
 * isWireErrorCode("ERR_SPOOL_FULL"); // true
 * isWireErrorCode("ERR_SPOOL_FUL"); // false
 * ```
 */
export function isWireErrorCode(value: unknown): value is WireErrorCode {
  return typeof value === "string" && Object.hasOwn(WIRE_ERRORS, value);
}

/**
 * The wire code for an envelope error's code: itself, or `ERR_INTERNAL` for the local-only codes
 * (a key file's problem is the operator's, never the sender's).
 */
export function wireCodeOf(code: MleErrorCode): WireErrorCode {
  return isWireErrorCode(code) ? code : "ERR_INTERNAL";
}
