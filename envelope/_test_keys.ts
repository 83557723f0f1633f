/**
 * Test support: the keys the envelope and protocol tests use, made once per test module: the
 * server key they seal to (an RSA-2048 key pair takes a while to generate) with a content key
 * wrapped to it (a fresh one on demand, or one shared by the module), the client key that signs
 * what they send, and a stranger's key that must be refused.
 *
 * @module
 */

import { encryptionKeyId, generateEncryptionKeyPair } from "./encryption_key.ts";
import { type ContentKey, createContentKey } from "./jwe.ts";
import { generateSigningKeyPair } from "./signature.ts";

/** A server's RSA-2048 encryption key pair. */
export const serverKeyPair: CryptoKeyPair = await generateEncryptionKeyPair(2048);

/** The key id of {@linkcode serverKeyPair}'s public key. */
export const serverKid: string = await encryptionKeyId(serverKeyPair.publicKey);

/** A new content key wrapped to {@linkcode serverKeyPair}, with its raw AES key bytes. */
export function newServerContentKey(): ReturnType<typeof createContentKey> {
  return createContentKey(serverKeyPair.publicKey, serverKid);
}

const sharedContentKey = await newServerContentKey();

/** One content key wrapped to {@linkcode serverKeyPair}, for the tests that seal with any key. */
export const serverContentKey: ContentKey = sharedContentKey.contentKey;

/** The raw AES key bytes of {@linkcode serverContentKey}. */
export const serverContentKeyBytes: Uint8Array<ArrayBuffer> = sharedContentKey.raw;

/** A client's Ed25519 signing key pair: the sender of the reports and uploads the tests make. */
export const clientKeyPair: CryptoKeyPair = await generateSigningKeyPair();

/** Another Ed25519 signing key pair: a stranger, whose signature in the client's place is refused. */
export const strangerKeyPair: CryptoKeyPair = await generateSigningKeyPair();
