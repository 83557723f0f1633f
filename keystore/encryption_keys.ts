/**
 * The `Encryption Keys` folder of a server or decrypting relay: one PEM PKCS#8 file per MLE private
 * key, named `<key id>.pvk` as the original names them `<SHA1HASH>.pvk`, readable with
 * `openssl pkey -in <file>`.
 *
 * @module
 */

import { decodePem, encodePem } from "../envelope/pem.ts";
import {
  encryptionKeyId,
  type EncryptionKeySize,
  exportPkcs8,
  importEncryptionPrivateKey,
  isKeyId,
} from "../envelope/encryption_key.ts";
import { MleError } from "../envelope/errors.ts";
import { createSecretFile, ensurePrivateDir, joinPath, readSecretFile } from "./secure_file.ts";

/** The folder's name, with the space, as the original's. */
export const ENCRYPTION_KEYS_FOLDER = "Encryption Keys";

/** A loaded MLE private key. */
export interface LoadedEncryptionKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  bits: EncryptionKeySize;
  /** SHA-256 of the PKCS#8 bytes: a secret-derived value the server may use to seal its caches. */
  sealingSeed: Uint8Array<ArrayBuffer>;
}

/** The path of the `Encryption Keys` folder inside a data dir. */
export function encryptionKeysDir(dataDir: string): string {
  return joinPath(dataDir, ENCRYPTION_KEYS_FOLDER);
}

/** Renders an extractable RSA private key as the PEM text of a key file. */
export async function encryptionKeyFileText(privateKey: CryptoKey, kid: string): Promise<string> {
  const pkcs8 = await exportPkcs8(privateKey);
  return `# MLE encryption private key ${kid}\n# created: ${new Date().toISOString()}\n` +
    encodePem("PRIVATE KEY", pkcs8);
}

/**
 * Writes an MLE private key into a folder as `<kid>.pvk` (0600 in 0700), never overwriting.
 *
 * @returns the file's path.
 */
export async function writeEncryptionKeyFile(
  folder: string,
  kid: string,
  pemText: string,
): Promise<string> {
  if (!isKeyId(kid)) throw new TypeError(`Cannot write key: "${kid}" is not a key id`);
  await ensurePrivateDir(folder);
  const path = joinPath(folder, `${kid}.pvk`);
  await createSecretFile(path, pemText);
  return path;
}

/**
 * Reads and checks one key file: the key must be RSA-OAEP material of an accepted size, and when
 * `expectedKid` is given, its public key must hash to it.
 */
export async function readEncryptionKeyFile(
  path: string,
  expectedKid?: string,
): Promise<LoadedEncryptionKey> {
  const text = new TextDecoder().decode(await readSecretFile(path));
  const pkcs8 = decodePem("PRIVATE KEY", text);
  const { privateKey, publicKey, bits } = await importEncryptionPrivateKey(pkcs8);
  const kid = await encryptionKeyId(publicKey);
  if (expectedKid !== undefined && kid !== expectedKid) {
    throw new MleError(
      "ERR_KEY_INVALID",
      `Cannot use key file "${path}": its key id is ${kid}, not ${expectedKid}`,
    );
  }
  const sealingSeed = new Uint8Array(await crypto.subtle.digest("SHA-256", pkcs8));
  pkcs8.fill(0);
  return { kid, privateKey, publicKey, bits, sealingSeed };
}

/**
 * What keeps a key file from being used, in words an operator acts on: `"not here"` when there is
 * no file, `unusable, mode 644: run chmod 600 "<path>"` when others may read it (keys readable by
 * others are refused), else `unusable: <why>`. `error` is what {@linkcode readEncryptionKeyFile}
 * threw for `path`.
 *
 * @example
 * ```ts
 * import { describeKeyFileProblem } from "./encryption_keys.ts";
 * console.log(describeKeyFileProblem(new Deno.errors.NotFound("x"), "/k.pvk")); // "not here"
 * ```
 */
export function describeKeyFileProblem(error: unknown, path: string): string {
  if (error instanceof Deno.errors.NotFound) return "not here";
  if (error instanceof MleError && error.code === "ERR_SECRET_FILE_INSECURE") {
    const mode = /\(mode ([0-7]+)\)/.exec(error.message)?.[1];
    if (mode !== undefined) {
      return `unusable, mode ${mode.padStart(4, "0")}: run chmod 600 "${path}"`;
    }
  }
  return `unusable: ${(error as Error)?.message ?? String(error)}`;
}

/**
 * Whether the key file of `kid` in a data dir can be used: null when it can, else what
 * {@linkcode describeKeyFileProblem} says.
 */
export async function encryptionKeyFileProblem(
  dataDir: string,
  kid: string,
): Promise<string | null> {
  const path = joinPath(encryptionKeysDir(dataDir), `${kid}.pvk`);
  try {
    await readEncryptionKeyFile(path, kid);
    return null;
  } catch (error) {
    return describeKeyFileProblem(error, path);
  }
}

/**
 * Loads every `<kid>.pvk` in a data dir's `Encryption Keys` folder. A file whose name is not its
 * key id is refused: the name is how servers and relays find the key a client used.
 */
export async function loadEncryptionKeys(
  dataDir: string,
): Promise<Map<string, LoadedEncryptionKey>> {
  const folder = encryptionKeysDir(dataDir);
  const keys = new Map<string, LoadedEncryptionKey>();
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(folder));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return keys;
    throw error;
  }
  for (const entry of entries) {
    const match = /^([0-9a-f]{40})\.pvk$/.exec(entry.name);
    if (!match) continue;
    keys.set(match[1], await readEncryptionKeyFile(joinPath(folder, entry.name), match[1]));
  }
  return keys;
}
