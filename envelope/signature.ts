/**
 * Ed25519 signatures through Web Crypto: the algorithm of the site key and of every client key.
 *
 * Ed25519 is deterministic, has no parameters to get wrong, and verifies about nine times faster
 * than P-256 in Deno, which matters because the server verifies a signature on every report.
 *
 * @module
 */

import { signEd25519, twinEd25519PrivateKey } from "./_node_crypto.ts";
import { MleError } from "./errors.ts";

/** Length in bytes of a raw Ed25519 public key. */
export const ED25519_PUBLIC_KEY_LENGTH = 32;
/** Length in bytes of an Ed25519 signature. */
export const ED25519_SIGNATURE_LENGTH = 64;

const ED25519 = { name: "Ed25519" } as const;

/**
 * Generates an Ed25519 key pair whose private half can be exported once, to be written to a key file.
 *
 * @example
 * ```ts
 * import { generateSigningKeyPair } from "./signature.ts";
 * const pair = await generateSigningKeyPair();
 * console.log(pair.publicKey.algorithm.name); // "Ed25519"
 * ```
 */
export async function generateSigningKeyPair(): Promise<CryptoKeyPair> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  twinEd25519PrivateKey(
    pair.privateKey,
    new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
  );
  return pair;
}

/** Exports the 32-byte raw form of an Ed25519 public key. */
export async function exportSigningPublicKey(
  publicKey: CryptoKey,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
}

/**
 * Imports a raw Ed25519 public key.
 *
 * @throws {MleError} `ERR_KEY_INVALID` when the bytes are not a 32-byte Ed25519 public key.
 */
export async function importSigningPublicKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  if (raw.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new MleError(
      "ERR_KEY_INVALID",
      `Cannot import signing public key: expected ${ED25519_PUBLIC_KEY_LENGTH} bytes, got ${raw.length}`,
    );
  }
  try {
    return await crypto.subtle.importKey("raw", raw, ED25519, true, ["verify"]);
  } catch (cause) {
    throw new MleError("ERR_KEY_INVALID", "Cannot import signing public key", { cause });
  }
}

/** Imports an Ed25519 private key from PKCS#8 DER, not extractable. */
export async function importSigningPrivateKey(pkcs8: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"]);
  } catch (cause) {
    throw new MleError("ERR_KEY_INVALID", "Cannot import signing private key: not Ed25519 PKCS#8", {
      cause,
    });
  }
  twinEd25519PrivateKey(key, pkcs8);
  return key;
}

/** Derives the public half of an Ed25519 private key given as PKCS#8 (via its JWK form). */
export async function publicKeyOfSigningPrivateKey(
  pkcs8: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const extractable = await crypto.subtle.importKey("pkcs8", pkcs8, ED25519, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  if (typeof jwk.x !== "string") {
    throw new MleError("ERR_KEY_INVALID", "Cannot read signing private key: no public part");
  }
  return Uint8Array.fromBase64(jwk.x, { alphabet: "base64url" });
}

/**
 * Signs bytes with an Ed25519 private key. Keys this module imported or generated sign through
 * node:crypto (synchronous, byte-identical: Ed25519 is deterministic); others through Web Crypto.
 */
export async function signBytes(
  privateKey: CryptoKey,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return signEd25519(privateKey, data) ??
    new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, data));
}

/**
 * Verifies an Ed25519 signature; a signature of the wrong length is simply invalid.
 *
 * Always Web Crypto, on purpose: Deno runs it on a thread pool, so a server verifying many reports
 * at once spends about 8 µs of its one event loop per signature instead of the 34 µs a synchronous
 * node:crypto verify takes there (`npm run bench:crypto`, "event loop µs/op"). node:crypto costs
 * less CPU in all (measured with `npm run bench` on two cores: 177 against 215 µs of server CPU per
 * clear-text report), but the event loop is what a server with more cores runs out of first, and
 * the encrypted rate on two cores was the same either way (docs/PERFORMANCE.md).
 */
export async function verifyBytes(
  publicKey: CryptoKey,
  signature: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  return await crypto.subtle.verify(ED25519, publicKey, signature, data);
}
