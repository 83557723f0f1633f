/**
 * PEM text (RFC 7468) for keys, so that standard tools (`openssl pkey`) read our key files.
 *
 * @module
 */

import { MleError } from "./errors.ts";

/**
 * Wraps DER bytes as PEM with the given label, 64 characters a line.
 *
 * @example
 * ```ts
 * import { encodePem } from "./pem.ts";
 * console.log(encodePem("PRIVATE KEY", new Uint8Array([1, 2, 3])));
 * ```
 */
export function encodePem(label: string, der: Uint8Array): string {
  const base64 = der.toBase64();
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Finds the first PEM block with the given label in a text (comments around it are allowed) and
 * returns its DER bytes.
 *
 * @throws {MleError} `ERR_KEY_INVALID` when there is no such block or its base64 is bad.
 */
export function decodePem(label: string, text: string): Uint8Array<ArrayBuffer> {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end, start + begin.length);
  if (start < 0 || stop < 0) {
    throw new MleError("ERR_KEY_INVALID", `Cannot read key: no "${label}" PEM block found`);
  }
  const body = text.slice(start + begin.length, stop).replace(/\s+/g, "");
  try {
    return Uint8Array.fromBase64(body, { lastChunkHandling: "strict" });
  } catch (cause) {
    throw new MleError("ERR_KEY_INVALID", `Cannot read key: "${label}" PEM block is not base64`, {
      cause,
    });
  }
}
