/**
 * The MLE encryption key: RSA-OAEP with SHA-256, 2048, 3072 or 4096 bits, e = 65537.
 *
 * Its key id is the SHA-1 of the public key's SubjectPublicKeyInfo DER, in hex, as the original
 * names its key files `<SHA1HASH>.pvk`. SHA-1 is only a name here, never a security check: the
 * public key itself reaches clients inside a certificate signed by the site key.
 *
 * @module
 */

import { MleError } from "./errors.ts";

/** Key sizes the product accepts; `min` is 2048 and `max` is 4096, as the original's flags. */
export const ENCRYPTION_KEY_SIZES = [2048, 3072, 4096] as const;
/** One of {@linkcode ENCRYPTION_KEY_SIZES}. */
export type EncryptionKeySize = typeof ENCRYPTION_KEY_SIZES[number];

const RSA_OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;
const F4 = new Uint8Array([1, 0, 1]);

/**
 * Parses the original's `-privateKeySize` value: `min`, `max` or a bit count.
 *
 * @throws {RangeError} For any other value.
 */
export function parseEncryptionKeySize(value: string): EncryptionKeySize {
  const normalized = value.trim().toLowerCase();
  if (normalized === "min") return 2048;
  if (normalized === "max") return 4096;
  const bits = /^\d+$/.test(normalized) ? Number(normalized) : NaN;
  if ((ENCRYPTION_KEY_SIZES as readonly number[]).includes(bits)) return bits as EncryptionKeySize;
  throw new RangeError(
    `Cannot use key size "${value}": expected min, max, 2048, 3072 or 4096`,
  );
}

/**
 * Generates an RSA-OAEP-256 key pair whose private half can be exported once, to its key file.
 *
 * @example
 * ```ts
 * import { generateEncryptionKeyPair, encryptionKeyId } from "./encryption_key.ts";
 * const pair = await generateEncryptionKeyPair(2048);
 * console.log((await encryptionKeyId(pair.publicKey)).length); // 40
 * ```
 */
export async function generateEncryptionKeyPair(bits: EncryptionKeySize): Promise<CryptoKeyPair> {
  if (!(ENCRYPTION_KEY_SIZES as readonly number[]).includes(bits)) {
    throw new RangeError(`Cannot generate a ${bits}-bit key: expected 2048, 3072 or 4096`);
  }
  return await crypto.subtle.generateKey(
    { ...RSA_OAEP, modulusLength: bits, publicExponent: F4 },
    true,
    ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
  ) as CryptoKeyPair;
}

/** Checks an imported RSA-OAEP key: SHA-256, an accepted size and e = 65537. */
export function checkEncryptionKey(key: CryptoKey): EncryptionKeySize {
  const algorithm = key.algorithm as RsaHashedKeyAlgorithm;
  if (algorithm.name !== "RSA-OAEP" || algorithm.hash?.name !== "SHA-256") {
    throw new MleError(
      "ERR_KEY_INVALID",
      "Cannot use encryption key: expected RSA-OAEP with SHA-256",
    );
  }
  if (!(ENCRYPTION_KEY_SIZES as readonly number[]).includes(algorithm.modulusLength)) {
    throw new MleError(
      "ERR_KEY_INVALID",
      `Cannot use encryption key: expected 2048, 3072 or 4096 bits, got ${algorithm.modulusLength}`,
    );
  }
  const e = algorithm.publicExponent;
  if (e.length !== 3 || e[0] !== 1 || e[1] !== 0 || e[2] !== 1) {
    throw new MleError(
      "ERR_KEY_INVALID",
      "Cannot use encryption key: expected public exponent 65537",
    );
  }
  return algorithm.modulusLength as EncryptionKeySize;
}

/** Imports and checks an RSA-OAEP-256 public key from SubjectPublicKeyInfo DER. */
export async function importEncryptionPublicKey(spki: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("spki", spki, RSA_OAEP, true, ["encrypt", "wrapKey"]);
  } catch (cause) {
    throw new MleError("ERR_KEY_INVALID", "Cannot import encryption public key: not RSA SPKI", {
      cause,
    });
  }
  checkEncryptionKey(key);
  return key;
}

/**
 * Imports and checks an RSA-OAEP-256 private key from PKCS#8 DER, not extractable.
 *
 * @returns the private key and its public half (derived from the same bytes).
 */
export async function importEncryptionPrivateKey(
  pkcs8: Uint8Array<ArrayBuffer>,
): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; bits: EncryptionKeySize }> {
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, RSA_OAEP, false, [
      "decrypt",
      "unwrapKey",
    ]);
    // The public half comes from the JWK form of a throwaway extractable import.
    const jwk = await crypto.subtle.exportKey(
      "jwk",
      await crypto.subtle.importKey("pkcs8", pkcs8, RSA_OAEP, true, ["decrypt"]),
    );
    publicKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RSA-OAEP-256", ext: true },
      RSA_OAEP,
      true,
      ["encrypt"],
    );
  } catch (cause) {
    throw new MleError("ERR_KEY_INVALID", "Cannot import encryption private key: not RSA PKCS#8", {
      cause,
    });
  }
  const bits = checkEncryptionKey(privateKey);
  return { privateKey, publicKey, bits };
}

/** Exports a public key as SubjectPublicKeyInfo DER. */
export async function exportSpki(publicKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
}

/** Exports an extractable private key as PKCS#8 DER. */
export async function exportPkcs8(privateKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey));
}

/** The key id: lowercase hex SHA-1 of the SubjectPublicKeyInfo DER (40 characters). */
export async function encryptionKeyId(publicKey: CryptoKey): Promise<string> {
  return keyIdOfSpki(await exportSpki(publicKey));
}

/** The key id of SubjectPublicKeyInfo DER bytes. */
export async function keyIdOfSpki(spki: Uint8Array<ArrayBuffer>): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-1", spki)).toHex();
}

/** True when a string has the form of a key id (40 lowercase hex characters). */
export function isKeyId(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{40}$/.test(value);
}
