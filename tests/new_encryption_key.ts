/**
 * Test support: a new MLE key pair with its private key written to a data dir's `Encryption Keys`
 * as the admin tool writes it, for the server's and the relays' in-process tests.
 *
 * @module
 */

import { encryptionKeyId, generateEncryptionKeyPair } from "../envelope/encryption_key.ts";
import {
  encryptionKeyFileText,
  encryptionKeysDir,
  writeEncryptionKeyFile,
} from "../keystore/encryption_keys.ts";

/** A key pair made by {@linkcode writeNewEncryptionKey} and its key id. */
export interface NewEncryptionKey {
  kid: string;
  pair: CryptoKeyPair;
}

/**
 * Generates a 2048-bit MLE key pair and writes its private key to `dataDir`'s `Encryption Keys`
 * as `<kid>.pvk`; the pair and its key id.
 *
 * @example
 * ```ts ignore
 * const { kid, pair } = await writeNewEncryptionKey(`${root}/relay`);
 * ```
 */
export async function writeNewEncryptionKey(dataDir: string): Promise<NewEncryptionKey> {
  const pair = await generateEncryptionKeyPair(2048);
  const kid = await encryptionKeyId(pair.publicKey);
  await writeEncryptionKeyFile(
    encryptionKeysDir(dataDir),
    kid,
    await encryptionKeyFileText(pair.privateKey, kid),
  );
  return { kid, pair };
}
