/**
 * The error family of the envelope, document and key code: one base class with a stable `code`,
 * so that callers `switch (error.code)` instead of matching messages.
 *
 * @module
 */

/** Stable codes of {@linkcode MleError}. */
export type MleErrorCode =
  | "ERR_ENVELOPE_MALFORMED"
  | "ERR_DECRYPTION_FAILED"
  | "ERR_UNKNOWN_KEY_ID"
  | "ERR_SIGNATURE_INVALID"
  | "ERR_DOCUMENT_INVALID"
  | "ERR_KEY_INVALID"
  | "ERR_SECRET_FILE_INSECURE"
  | "ERR_KEY_FILE_EXISTS"
  | "ERR_WRONG_PASSWORD";

/**
 * Base class of every expected failure of the envelope, document and key code.
 *
 * @example
 * ```ts
 * import { MleError } from "./errors.ts";
 * const error = new MleError("ERR_DECRYPTION_FAILED", "Cannot decrypt envelope");
 * console.log(error.code); // "ERR_DECRYPTION_FAILED"
 * ```
 */
export class MleError extends Error {
  /** Stable machine-readable code. */
  readonly code: MleErrorCode;

  /** Creates an error with a stable code and a sentence-case message. */
  constructor(code: MleErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MleError";
    this.code = code;
  }
}

/**
 * The one error every decryption failure gives: a bad wrapped key, tag, ciphertext, IV or header
 * all look the same to the sender (RFC 7516 §11.5), so the receiver is no padding or tag oracle.
 */
export function decryptionFailed(): MleError {
  return new MleError("ERR_DECRYPTION_FAILED", "Cannot decrypt envelope");
}
