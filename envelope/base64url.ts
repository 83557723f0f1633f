/**
 * Strict unpadded base64url (RFC 4648 §5), as JOSE uses it.
 *
 * @module
 */

import { decodeUtf8 } from "./utf8.ts";

/**
 * Encodes bytes as unpadded base64url.
 *
 * @example
 * ```ts
 * import { encodeBase64Url } from "./base64url.ts";
 * console.log(encodeBase64Url(new Uint8Array([251, 255]))); // "-_8"
 * ```
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * Decodes unpadded base64url, refusing padding, other alphabets and non-canonical final bits.
 *
 * @throws {SyntaxError} When the text is not canonical base64url.
 * @example
 * ```ts
 * import { decodeBase64Url } from "./base64url.ts";
 * console.log(decodeBase64Url("-_8")); // Uint8Array [251, 255]
 * ```
 */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== "string") throw notBase64Url();
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Uint8Array.fromBase64(text, { alphabet: "base64url", lastChunkHandling: "loose" });
  } catch {
    throw notBase64Url();
  }
  // fromBase64 skips ASCII whitespace and accepts "=" padding, neither of which unpadded base64url
  // has: one text form per byte string. Each such character makes the text longer than the bytes
  // it encodes need, so comparing lengths refuses them without scanning the text a second time
  // (this decoder runs over every message body the server receives).
  const rest = text.length % 4;
  if (rest === 1 || bytes.length !== ((text.length - rest) / 4) * 3 + (rest === 0 ? 0 : rest - 1)) {
    throw notBase64Url();
  }
  // "loose" accepts unpadded input but ignores the unused bits of the last character; a canonical
  // encoding has them zero, so that one byte string has exactly one text form.
  const unusedBits = text.length % 4 === 2 ? 4 : text.length % 4 === 3 ? 2 : 0;
  if (unusedBits > 0) {
    const last = ALPHABET.indexOf(text[text.length - 1]);
    if ((last & ((1 << unusedBits) - 1)) !== 0) {
      throw new SyntaxError("Cannot decode base64url: non-canonical final character");
    }
  }
  return bytes;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function notBase64Url(): SyntaxError {
  return new SyntaxError("Cannot decode base64url: expected unpadded base64url text");
}

/** Encodes a string's UTF-8 bytes as unpadded base64url. */
export function encodeBase64UrlText(text: string): string {
  return encodeBase64Url(new TextEncoder().encode(text));
}

/** Decodes unpadded base64url into UTF-8 text, refusing invalid UTF-8. */
export function decodeBase64UrlText(text: string): string {
  return decodeUtf8(decodeBase64Url(text));
}
