/**
 * The sender's signature over a JWE as it travels (`sig`, a member beside the JWE's own, which JOSE
 * libraries ignore): an Ed25519 signature over the JWE compact serialization. It lets a receiver
 * or a relay check who sent a message before any RSA private-key operation and without decrypting.
 * Reports, upload manifests and relay bundles all carry one.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "./base64url.ts";
import { type FlattenedJwe, toCompactJwe } from "./jwe.ts";
import { signBytes, verifyBytes } from "./signature.ts";

const encoder = new TextEncoder();

/**
 * Signs a JWE's compact form with the sender's key; returns the `sig` value (base64url).
 *
 * @example
 * ```ts ignore
 * const message = { ...jwe, sig: await signSenderSignature(clientKey, jwe) };
 * ```
 */
export async function signSenderSignature(
  senderPrivateKey: CryptoKey,
  jwe: FlattenedJwe,
): Promise<string> {
  return encodeBase64Url(await signBytes(senderPrivateKey, encoder.encode(toCompactJwe(jwe))));
}

/** True when `sig` is the sender's valid signature over the JWE's compact form. */
export async function verifySenderSignature(
  senderPublicKey: CryptoKey,
  jwe: FlattenedJwe,
  sig: string,
): Promise<boolean> {
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = decodeBase64Url(sig);
  } catch {
    return false;
  }
  return await verifyBytes(senderPublicKey, signature, encoder.encode(toCompactJwe(jwe)));
}
