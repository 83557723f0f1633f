/**
 * Test support: the server key the envelope and protocol tests seal to, made once per test module
 * (an RSA-2048 key pair takes a while to generate), and a content key wrapped to it.
 *
 * @module
 */

import { encryptionKeyId, generateEncryptionKeyPair } from "./encryption_key.ts";
import { createContentKey } from "./jwe.ts";

/** A server's RSA-2048 encryption key pair. */
export const serverKeyPair: CryptoKeyPair = await generateEncryptionKeyPair(2048);

/** The key id of {@linkcode serverKeyPair}'s public key. */
export const serverKid: string = await encryptionKeyId(serverKeyPair.publicKey);

/** A new content key wrapped to {@linkcode serverKeyPair}, with its raw AES key bytes. */
export function newServerContentKey(): ReturnType<typeof createContentKey> {
  return createContentKey(serverKeyPair.publicKey, serverKid);
}
