/**
 * Synchronous node:crypto twins of the Web Crypto keys the envelope imports, used behind the
 * envelope's own functions (`verifyBytes`, `signBytes`, `encryptJwe`, `decryptJwe`) so that their
 * interfaces and results stay exactly those of Web Crypto.
 *
 * Why: in Deno each Web Crypto call is an asynchronous round trip, and for the small inputs of the
 * report path that round trip costs more than the cryptography (about 2× for Ed25519 verify and
 * AES-GCM on 1 KiB; see `npm run bench:crypto`). node:crypto is built into Deno; its calls here
 * are synchronous.
 *
 * How: when the envelope imports or generates a key, it also makes its node:crypto `KeyObject`
 * from the same bytes and keeps it in a `WeakMap` keyed by the `CryptoKey`, so it lives exactly
 * as long as the key. A key without a twin (its bytes were refused by node:crypto, or it came from
 * elsewhere) simply takes the Web Crypto path. `envelope/node_crypto_test.ts` runs the Wycheproof
 * vectors and tampered messages through both paths and requires identical results.
 *
 * Private to the envelope: nothing outside it should depend on which path ran.
 *
 * @module
 */

import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { Buffer } from "node:buffer";

const twins = new WeakMap<CryptoKey, KeyObject>();

/** The node:crypto twin of a key, if it has one (tests check the fast path is really taken). */
export function nodeTwinOf(key: CryptoKey): KeyObject | undefined {
  return twins.get(key);
}

/** Gives an Ed25519 public key its twin, made from the same 32 raw bytes. */
export function twinEd25519PublicKey(key: CryptoKey, raw: Uint8Array): void {
  try {
    twins.set(
      key,
      createPublicKey({
        key: { kty: "OKP", crv: "Ed25519", x: raw.toBase64({ alphabet: "base64url" }) },
        format: "jwk",
      }),
    );
  } catch {
    // node:crypto refused these bytes: this key takes the Web Crypto path.
  }
}

/** Gives an Ed25519 private key its twin, made from the same PKCS#8 bytes. */
export function twinEd25519PrivateKey(key: CryptoKey, pkcs8: Uint8Array): void {
  try {
    twins.set(key, createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" }));
  } catch {
    // Web Crypto path.
  }
}

/**
 * Gives an AES-256-GCM key its twin, made from the same raw bytes. Only 256-bit keys (the
 * content key's size): Deno's node:crypto refuses some AES-192-GCM inputs that Web Crypto opens.
 */
export function twinAesKey(key: CryptoKey, raw: Uint8Array): void {
  if (raw.length !== 32) return;
  twins.set(key, createSecretKey(Buffer.from(raw)));
}

/** Ed25519 verify through the twin; undefined when the key has none. */
export function verifyEd25519(
  publicKey: CryptoKey,
  signature: Uint8Array,
  data: Uint8Array,
): boolean | undefined {
  const twin = twins.get(publicKey);
  if (twin === undefined) return undefined;
  try {
    return verify(null, data, twin, signature);
  } catch {
    return false;
  }
}

/** Ed25519 sign through the twin; undefined when the key has none. */
export function signEd25519(
  privateKey: CryptoKey,
  data: Uint8Array,
): Uint8Array<ArrayBuffer> | undefined {
  const twin = twins.get(privateKey);
  if (twin === undefined) return undefined;
  const signature = sign(null, data, twin);
  return new Uint8Array(signature.buffer.slice(
    signature.byteOffset,
    signature.byteOffset + signature.byteLength,
  ) as ArrayBuffer);
}

/**
 * AES-256-GCM decrypt (128-bit tag) through the twin: the plaintext, `null` when the tag does not
 * verify, or undefined when the key has no twin.
 */
export function decryptAesGcm(
  key: CryptoKey,
  iv: Uint8Array,
  additionalData: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): Uint8Array<ArrayBuffer> | null | undefined {
  const twin = twins.get(key);
  if (twin === undefined) return undefined;
  if (tag.length !== 16) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", twin, iv, { authTagLength: 16 });
    decipher.setAAD(additionalData);
    decipher.setAuthTag(tag);
    const head = decipher.update(ciphertext);
    const tail = decipher.final(); // throws when the tag does not verify
    const plaintext = new Uint8Array(head.length + tail.length);
    plaintext.set(head);
    plaintext.set(tail, head.length);
    return plaintext;
  } catch {
    return null;
  }
}

/**
 * AES-256-GCM encrypt (128-bit tag) through the twin: ciphertext and tag, or undefined when the key
 * has no twin.
 */
export function encryptAesGcm(
  key: CryptoKey,
  iv: Uint8Array,
  additionalData: Uint8Array,
  plaintext: Uint8Array,
): { ciphertext: Uint8Array; tag: Uint8Array } | undefined {
  const twin = twins.get(key);
  if (twin === undefined) return undefined;
  const cipher = createCipheriv("aes-256-gcm", twin, iv, { authTagLength: 16 });
  cipher.setAAD(additionalData);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const ciphertext = new Uint8Array(head.length + tail.length);
  ciphertext.set(head);
  ciphertext.set(tail, head.length);
  return { ciphertext, tag: new Uint8Array(cipher.getAuthTag()) };
}
