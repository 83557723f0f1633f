/**
 * The site signing key file (`license.pvk`): the root of trust, an Ed25519 private key sealed
 * under a password. It signs the masthead, encryption certificates, settings and revocation lists,
 * and never leaves the administrator's hands.
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import {
  exportSigningPublicKey,
  generateSigningKeyPair,
  importSigningPrivateKey,
  importSigningPublicKey,
} from "../envelope/signature.ts";
import { decodeBase64Url } from "../envelope/base64url.ts";
import { openWithPassword, type PasswordSealed, sealWithPassword } from "./password_seal.ts";
import { createSecretFile, readSecretFile } from "./secure_file.ts";

/** Format tag of the site key file. */
export const SITE_KEY_FORMAT = "mle-site-key/1";

/** An opened site key. */
export interface SiteKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Raw Ed25519 public key, base64url: what the masthead carries. */
  publicKeyText: string;
}

/**
 * Creates a new site key file sealed under `password`. Never overwrites an existing file.
 *
 * @example
 * ```ts ignore
 * import { createSiteKeyFile } from "./site_key.ts";
 * const site = await createSiteKeyFile("/tmp/site/license.pvk", "a long password");
 * console.log(site.publicKeyText);
 * ```
 */
export async function createSiteKeyFile(
  path: string,
  password: string,
  iterations?: number,
): Promise<SiteKey> {
  const pair = await generateSigningKeyPair();
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicKeyText = encodeBase64Url(await exportSigningPublicKey(pair.publicKey));
  const sealed = await sealWithPassword(
    SITE_KEY_FORMAT,
    pkcs8,
    publicKeyText,
    password,
    iterations,
  );
  pkcs8.fill(0);
  const text = [
    "# MLE site signing key (Ed25519), sealed with a password: keep it off clients and relays",
    `# created: ${new Date().toISOString()}`,
    `# public key: ${publicKeyText}`,
    JSON.stringify(sealed),
    "",
  ].join("\n");
  await createSecretFile(path, text);
  return {
    privateKey: await importSigningPrivateKey(
      new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
    ),
    publicKey: pair.publicKey,
    publicKeyText,
  };
}

/**
 * Opens a site key file with its password.
 *
 * @throws {MleError} `ERR_WRONG_PASSWORD` (nothing is changed; try again), `ERR_SECRET_FILE_INSECURE`,
 * `ERR_KEY_INVALID`.
 */
export async function openSiteKeyFile(path: string, password: string): Promise<SiteKey> {
  const text = new TextDecoder().decode(await readSecretFile(path));
  const line = text.split("\n").find((l) => l.trimStart().startsWith("{"));
  let sealed: PasswordSealed;
  try {
    sealed = JSON.parse(line ?? "");
  } catch (cause) {
    throw new MleError("ERR_KEY_INVALID", `Cannot read site key "${path}": not a site key file`, {
      cause,
    });
  }
  if (sealed?.format !== SITE_KEY_FORMAT) {
    throw new MleError(
      "ERR_KEY_INVALID",
      `Cannot read site key "${path}": expected format "${SITE_KEY_FORMAT}"`,
    );
  }
  const pkcs8 = await openWithPassword(sealed, password);
  const privateKey = await importSigningPrivateKey(pkcs8);
  pkcs8.fill(0);
  const publicKey = await importSigningPublicKey(decodeBase64Url(sealed.publicData));
  return { privateKey, publicKey, publicKeyText: sealed.publicData };
}
