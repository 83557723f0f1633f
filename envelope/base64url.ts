/**
 * Strict unpadded base64url (RFC 4648 §5), as JOSE uses it.
 *
 * @module
 */

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
  // fromBase64 skips ASCII whitespace, so test the alphabet first: one text form per byte string.
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new SyntaxError("Cannot decode base64url: expected unpadded base64url text");
  }
  const bytes = Uint8Array.fromBase64(text, { alphabet: "base64url", lastChunkHandling: "loose" });
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

/** Encodes a string's UTF-8 bytes as unpadded base64url. */
export function encodeBase64UrlText(text: string): string {
  return encodeBase64Url(new TextEncoder().encode(text));
}

/** Decodes unpadded base64url into UTF-8 text, refusing invalid UTF-8. */
export function decodeBase64UrlText(text: string): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(decodeBase64Url(text));
}
