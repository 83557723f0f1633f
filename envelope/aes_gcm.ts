/**
 * AES-256-GCM with a 128-bit tag: the one place the envelope seals and opens with a symmetric key
 * (a JWE's content, an upload's chunks). The sealed form is the ciphertext followed by the tag, as
 * Web Crypto makes it. A message of a report's size (up to {@linkcode NODE_CRYPTO_MAX_BYTES}) under
 * a key with a node:crypto twin (`_node_crypto.ts`: content keys imported by `jwe.ts`) goes through
 * node:crypto's synchronous call, which costs less CPU than a Web Crypto round trip there; larger
 * ones (bundles) and keys without a twin (an upload's derived chunk key) through Web Crypto, whose
 * AES-GCM is several times cheaper per byte from 16 KiB up (`npm run bench:crypto`). Both give the
 * same bytes and the same verdicts (node_crypto_test.ts, Wycheproof vectors).
 *
 * @module
 */

import { decryptAesGcm, encryptAesGcm } from "./_node_crypto.ts";

/** Length of the GCM IV in bytes (96 bits, the size SP 800-38D recommends). */
export const GCM_IV_LENGTH = 12;
/** Length of the GCM tag in bytes. */
export const GCM_TAG_LENGTH = 16;
/** Largest plaintext sealed or opened through node:crypto; larger ones go through Web Crypto. */
export const NODE_CRYPTO_MAX_BYTES = 4096;

/**
 * Seals `plaintext` under `key` with this IV, authenticating `additionalData` with it.
 *
 * @returns the ciphertext followed by the 16-byte tag.
 */
export async function sealAesGcm(
  key: CryptoKey,
  iv: Uint8Array<ArrayBuffer>,
  additionalData: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  if (plaintext.length <= NODE_CRYPTO_MAX_BYTES) {
    const fast = encryptAesGcm(key, iv, additionalData, plaintext);
    if (fast !== undefined) return fast;
  }
  const params = { name: "AES-GCM", iv, additionalData, tagLength: GCM_TAG_LENGTH * 8 };
  return new Uint8Array(await crypto.subtle.encrypt(params, key, plaintext));
}

/**
 * Opens what {@linkcode sealAesGcm} made with the same key, IV and additional data.
 *
 * @returns the plaintext, or null when anything differs (one answer for every failure).
 */
export async function openAesGcm(
  key: CryptoKey,
  iv: Uint8Array<ArrayBuffer>,
  additionalData: Uint8Array<ArrayBuffer>,
  sealed: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (sealed.length <= NODE_CRYPTO_MAX_BYTES + GCM_TAG_LENGTH) {
    const fast = decryptAesGcm(key, iv, additionalData, sealed);
    if (fast !== undefined) return fast;
  }
  const params = { name: "AES-GCM", iv, additionalData, tagLength: GCM_TAG_LENGTH * 8 };
  try {
    return new Uint8Array(await crypto.subtle.decrypt(params, key, sealed));
  } catch {
    return null;
  }
}
