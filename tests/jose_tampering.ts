/**
 * What tests do to a JOSE message to prove a reader refuses it: read its protected header as JSON,
 * flip one bit of a base64url member.
 *
 * @module
 */

import { decodeBase64Url, decodeBase64UrlText, encodeBase64Url } from "../envelope/base64url.ts";

/** The protected header of a JWE or JWS, parsed (unchecked). */
export function protectedHeaderOf(message: { protected: string }): Record<string, unknown> {
  return JSON.parse(decodeBase64UrlText(message.protected));
}

/** Flips the lowest bit of one decoded byte of a base64url member (`byteIndex` < 0 from the end). */
export function flipBit(text: string, byteIndex: number): string {
  const bytes = decodeBase64Url(text);
  bytes[byteIndex < 0 ? bytes.length + byteIndex : byteIndex] ^= 0x01;
  return encodeBase64Url(bytes);
}
