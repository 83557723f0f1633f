/**
 * The client's KeyStorage: the folder holding the client's own Ed25519 key pair, its identity.
 * Rotation (seed 002) deletes this folder; the next start makes a new key.
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import { decodePem, encodePem } from "../envelope/pem.ts";
import {
  exportSigningPublicKey,
  generateSigningKeyPair,
  importSigningPrivateKey,
  importSigningPublicKey,
  publicKeyOfSigningPrivateKey,
} from "../envelope/signature.ts";
import { createSecretFile, ensurePrivateDir, joinPath, readSecretFile } from "./secure_file.ts";

/** File name of the client key inside KeyStorage. */
export const CLIENT_KEY_FILE = "client.pvk";

/** The client's key pair as loaded. */
export interface ClientKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Raw Ed25519 public key, base64url. */
  publicKeyText: string;
  /** True when this call made the key (first start, or after a rotation). */
  created: boolean;
}

/**
 * Loads the client key from KeyStorage, making a new one (0600 in a 0700 folder) when none is there.
 *
 * @example
 * ```ts ignore
 * import { loadOrCreateClientKey } from "./key_storage.ts";
 * const key = await loadOrCreateClientKey("/etc/opt/BESClient/KeyStorage");
 * console.log(key.publicKeyText);
 * ```
 */
export async function loadOrCreateClientKey(keyStoragePath: string): Promise<ClientKey> {
  const path = joinPath(keyStoragePath, CLIENT_KEY_FILE);
  try {
    return await readClientKey(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await installClientKey(keyStoragePath, await generateSigningKeyPair());
  return { ...(await readClientKey(path)), created: true };
}

/**
 * Writes an extractable key pair as the KeyStorage's client key (0600 in a 0700 folder), never
 * overwriting one. Key rotation uses it to install the key its hand-over vouched for.
 */
export async function installClientKey(keyStoragePath: string, pair: CryptoKeyPair): Promise<void> {
  await ensurePrivateDir(keyStoragePath);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicKeyText = encodeBase64Url(await exportSigningPublicKey(pair.publicKey));
  await createSecretFile(
    joinPath(keyStoragePath, CLIENT_KEY_FILE),
    `# MLE client key (Ed25519)\n# created: ${new Date().toISOString()}\n` +
      `# public key: ${publicKeyText}\n${encodePem("PRIVATE KEY", pkcs8)}`,
  );
  pkcs8.fill(0);
}

/** Reads an existing client key file. */
export async function readClientKey(path: string): Promise<ClientKey> {
  const pkcs8 = decodePem("PRIVATE KEY", new TextDecoder().decode(await readSecretFile(path)));
  const raw = await publicKeyOfSigningPrivateKey(pkcs8);
  const privateKey = await importSigningPrivateKey(pkcs8);
  pkcs8.fill(0);
  return {
    privateKey,
    publicKey: await importSigningPublicKey(raw),
    publicKeyText: encodeBase64Url(raw),
    created: false,
  };
}

/** Deletes the KeyStorage folder and everything in it (seed 002, step 1). */
export async function deleteKeyStorage(keyStoragePath: string): Promise<boolean> {
  try {
    await Deno.remove(keyStoragePath, { recursive: true });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
