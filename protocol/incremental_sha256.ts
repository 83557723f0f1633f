/**
 * SHA-256 fed piece by piece, for files too large to hold in memory. Web Crypto has no
 * incremental digest, so this one module uses `node:crypto`'s `createHash` (OpenSSL-backed, with
 * SHA-NI where the CPU has it); its test proves it gives exactly what `crypto.subtle.digest`
 * gives over the same bytes, however they are split.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A running SHA-256. */
export interface IncrementalSha256 {
  /** Feeds bytes. */
  update(bytes: Uint8Array): void;
  /** Ends the hash and returns it as lowercase hex; the object is spent afterwards. */
  digestHex(): string;
}

/**
 * Starts a running SHA-256.
 *
 * @example
 * ```ts
 * import { createSha256 } from "./incremental_sha256.ts";
 * const hash = createSha256();
 * hash.update(new TextEncoder().encode("a"));
 * hash.update(new TextEncoder().encode("bc"));
 * console.log(hash.digestHex()); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 */
export function createSha256(): IncrementalSha256 {
  const hash = createHash("sha256");
  return {
    update: (bytes) => void hash.update(bytes),
    digestHex: () => hash.digest("hex"),
  };
}
