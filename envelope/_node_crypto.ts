/**
 * Synchronous node:crypto twins of Web Crypto keys, used behind the envelope's own functions
 * (`signBytes`, `aes_gcm.ts`) so that their interfaces and results stay exactly those of Web
 * Crypto: Ed25519 is deterministic and AES-GCM with a given IV is too, so the bytes out are the
 * same (node_crypto_test.ts checks them, and every verdict, against Web Crypto and the Wycheproof
 * vectors).
 *
 * Where: Ed25519 signing (a sender signs one message at a time, and a Web Crypto call in Deno costs
 * more in its round trip than in the cryptography), and AES-256-GCM of report-sized messages on
 * both sides (node:crypto costs about half the CPU of a Web Crypto call there and no more event
 * loop than a Web Crypto call in flight among many). Not Ed25519 verification: Deno runs Web
 * Crypto's on a thread pool, off the server's one event loop (`signature.ts` says why).
 *
 * How: when the envelope generates or imports a key, it also keeps its node:crypto form from the
 * same bytes (an Ed25519 `KeyObject`; an AES key's raw bytes, which node:crypto takes without the
 * export a `KeyObject` costs on every cipher) in a `WeakMap` keyed by the `CryptoKey`, so it lives
 * exactly as long as the key. A key without a twin takes the Web Crypto path.
 *
 * Private to the envelope: nothing outside it should depend on which path ran.
 *
 * @module
 */

import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  type KeyObject,
  sign,
} from "node:crypto";
import { Buffer } from "node:buffer";

const twins = new WeakMap<CryptoKey, KeyObject>();
const aesTwins = new WeakMap<CryptoKey, Buffer>();

/** The node:crypto twin of a key, if it has one (tests check the fast path is really taken). */
export function nodeTwinOf(key: CryptoKey): KeyObject | Uint8Array | undefined {
  return twins.get(key) ?? aesTwins.get(key);
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
  aesTwins.set(key, Buffer.from(raw));
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

/** The IV length the node:crypto path takes; any other goes to Web Crypto, which takes more. */
const GCM_IV_BYTES = 12;

/**
 * AES-256-GCM encrypt (128-bit tag) through the twin: ciphertext followed by tag, or undefined when
 * the key has no twin or the IV is not 96 bits.
 */
export function encryptAesGcm(
  key: CryptoKey,
  iv: Uint8Array,
  additionalData: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array<ArrayBuffer> | undefined {
  const twin = aesTwins.get(key);
  if (twin === undefined || iv.length !== GCM_IV_BYTES) return undefined;
  const cipher = createCipheriv("aes-256-gcm", twin, iv, { authTagLength: 16 });
  cipher.setAAD(additionalData);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const sealed = new Uint8Array(head.length + tail.length + 16);
  sealed.set(head);
  sealed.set(tail, head.length);
  sealed.set(cipher.getAuthTag(), head.length + tail.length);
  return sealed;
}

/**
 * AES-256-GCM decrypt (128-bit tag) of ciphertext followed by tag through the twin: the plaintext,
 * null when it does not open, or undefined when the key has no twin or the IV is not 96 bits.
 */
export function decryptAesGcm(
  key: CryptoKey,
  iv: Uint8Array,
  additionalData: Uint8Array,
  sealed: Uint8Array,
): Uint8Array<ArrayBuffer> | null | undefined {
  const twin = aesTwins.get(key);
  if (twin === undefined || iv.length !== GCM_IV_BYTES) return undefined;
  if (sealed.length < 16) return null;
  const tagAt = sealed.length - 16;
  try {
    const decipher = createDecipheriv("aes-256-gcm", twin, iv, { authTagLength: 16 });
    decipher.setAAD(additionalData);
    decipher.setAuthTag(sealed.subarray(tagAt));
    const head = decipher.update(sealed.subarray(0, tagAt));
    const tail = decipher.final();
    // GCM's final adds nothing: the plaintext is what update gave, without a copy.
    if (tail.length === 0) {
      return new Uint8Array(head.buffer as ArrayBuffer, head.byteOffset, head.length);
    }
    const plaintext = new Uint8Array(head.length + tail.length);
    plaintext.set(head);
    plaintext.set(tail, head.length);
    return plaintext;
  } catch {
    return null;
  }
}
