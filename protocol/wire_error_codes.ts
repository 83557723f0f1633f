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

/** The catalogue: each wire code, the statuses it goes with, and what it means. */
export const WIRE_ERRORS = {
  // Any request.
  ERR_BAD_REQUEST: [400], // The request lacks or misstates a parameter (a computer id, an index).
  ERR_NOT_FOUND: [404], // No such path (or document) on this host.
  ERR_METHOD_NOT_ALLOWED: [405], // The path exists, the method does not.
  ERR_TOO_LARGE: [413], // The body is over the limit for this path.
  ERR_INTERNAL: [500], // Unexpected; the message's request id finds the cause in the log.
  ERR_RETRY_LATER: [503], // A bounded queue (RSA work) is full: retry after `Retry-After`.
  ERR_STORAGE_FULL: [503], // The host's disk is full: keep it, retry after `Retry-After`.
  ERR_DATABASE_UNAVAILABLE: [503], // The database is unreachable: retry after `Retry-After`.

  // Envelopes, documents and keys (the envelope's own codes, as a receiver answers them).
  ERR_ENVELOPE_MALFORMED: [400, null], // Envelope, JWS or batch unreadable (shape, claims).
  ERR_DECRYPTION_FAILED: [400, null], // Cannot decrypt; deliberately opaque (RFC 7516 §11.5).
  ERR_UNKNOWN_KEY_ID: [400, null], // The envelope's key is not (or no longer) this site's.
  ERR_SIGNATURE_INVALID: [403, null], // A signature does not verify against the key it claims.
  ERR_DOCUMENT_INVALID: [400, null], // A registration, settings or decision does not verify.
  ERR_KEY_INVALID: [400, null], // A public key in the request cannot be used.
  ERR_KEY_UNAVAILABLE: [503], // The key is still loading: retry later.

  // Senders.
  ERR_UNKNOWN_COMPUTER: [403, 404, null], // Not registered (or removed): register again.
  ERR_COMPUTER_REVOKED: [403, null], // Revoked by an operator: rotate the client's keys.
  ERR_COMPUTER_REPLACED: [403, null], // The computer was replaced by a key rotation's hand-over.
  ERR_REGISTRATION_EXPIRED: [400], // A registration signed too long ago: make a new one.
  ERR_HANDOVER_INVALID: [403], // A registration's hand-over from an old key does not verify.
  ERR_KEY_EXCHANGE_REQUIRED: [403], // An authenticating relay wants the manual key exchange.
  ERR_KEY_EXCHANGE_FAILED: [403], // The exchange's proof or one-time password is wrong or used.
  ERR_KEY_EXCHANGE_NOT_READY: [503], // The relay cannot check key exchanges yet: retry later.
  ERR_TOO_MANY_ATTEMPTS: [429], // Too many failed exchanges here: wait `Retry-After`.
  ERR_RELAY_AUTH_REQUIRED: [403], // A relay asked for clients' keys without its signed request.
  ERR_RELAY_AUTH_EXPIRED: [403], // A relay's signed request is too old.
  ERR_RELAY_AUTH_INVALID: [403], // A relay's signed request does not verify.
  ERR_RELAY_NOT_ALLOWED: [403], // Not allowed to send bundles or read keys (`admin relays allow`).
  ERR_RELAY_RECORD_DIGEST: [400], // A relay record's path is not the body's SHA-256.
  ERR_RELAY_RECORD_INVALID: [400], // A relay record is not {name, url, kids} within bounds.

  // Reports.
  ERR_REPORT_INVALID: [400, null], // The report itself (inside the envelope) is not a valid report.
  ERR_DUPLICATE_REPORT: [409, null], // Already stored: every sender treats it as delivered.
  ERR_REPORT_CONFLICT: [409, null], // Another report holds this computer's sequence number.
  ERR_BATCH_MALFORMED: [400], // A batch of reports cannot be read: send each alone.
  ERR_CLEAR_TEXT_REFUSED: [403], // The site's policy refuses clear-text reports: encrypt.
  ERR_ENCRYPTION_NOT_SUPPORTED: [415], // This host takes no encrypted messages (a legacy relay).
  ERR_TOO_MANY_NEW_KEYS: [429], // The computer sent too many new content keys: wait `Retry-After`.
  ERR_SPOOL_FULL: [503], // The spool (or this computer's share) is full: `Retry-After`.

  // Documents a parent serves.
  ERR_NO_MASTHEAD: [404], // The server has no masthead: the site was not initialised.
  ERR_NO_CERTIFICATE: [404], // Encryption was never enabled: there is no certificate.
  ERR_NO_REVOCATIONS: [404], // No computer was ever revoked: there is no revocation list.
  ERR_NO_ROTATION: [404], // No key rotation is requested for this computer.
  ERR_PARENT_UNREACHABLE: [503], // The relay's parent does not answer: retry later.
  ERR_PARENT_BAD_ANSWER: [502, 503], // The relay's parent answered unusably: retry later.

  // Uploads.
  ERR_UNKNOWN_UPLOAD: [404], // Unknown upload (expired or never started): start again.
  ERR_UPLOAD_CONFLICT: [409], // An upload with this id exists with a different manifest.
  ERR_MANIFEST_INVALID: [400], // The upload manifest cannot be read or is inconsistent.
  ERR_CHUNK_INVALID: [400], // A chunk is not the one expected (index, length, seal).
  ERR_CHUNK_TOO_LARGE: [400], // The upload's chunk size is over this host's limit.
  ERR_UPLOAD_QUOTA_EXCEEDED: [413], // The upload is over the computer's or the server's quota.
  ERR_UPLOAD_FAILED: [409, null], // Failed for good; the message (or status's error) says why.
  ERR_UPLOAD_REFUSED: [null], // A parent refused a buffered upload (relay's upload status).
  ERR_UPLOAD_HASH_MISMATCH: [null], // The file's SHA-256 is not the manifest's (failed status).
  ERR_UPLOAD_LOST: [null], // The server lost the partial file (in a failed upload's status).
  ERR_UPLOAD_EXPIRED: [null], // No chunk arrived for too long (in a failed upload's status).

  // The web console (answered to a browser).
  ERR_SESSION_EXPIRED: [401], // Not signed in, or the session ended.
  ERR_CSRF_TOKEN: [403], // The form's CSRF token is missing or wrong: reload the page.
  ERR_FORBIDDEN_ROLE: [403], // The signed-in user's role may not do this.
  ERR_BODY_TOO_LARGE: [413], // The console's form body is over its limit.
  ERR_DECISION_INVALID: [400], // A decision signed in the browser cannot be recorded as it stands.
  ERR_DECISION_STALE: [409], // Signed against a state since changed: reload, sign again.
  ERR_UPLOAD_NOT_FOUND: [404], // No completed upload with this id.
} as const satisfies Record<`ERR_${string}`, readonly (number | null)[]>;

/** A code that may cross the wire. */
export type WireErrorCode = keyof typeof WIRE_ERRORS;

/** The HTTP statuses a code is sent with (`null`: inside a 200 answer). */
export type WireErrorStatus<C extends WireErrorCode> = (typeof WIRE_ERRORS)[C][number];

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
