/**
 * A relay's voucher for a registration: an authenticating relay that admitted a client (its
 * password or one-time password checked) signs the client's registration with its own Ed25519
 * key before passing it to an authenticating parent. A parent that trusts that relay's key
 * (`mle-relay run --trust-relay KEY`) admits the client on the voucher, whatever password the
 * client used below. The signature covers the registration's protected header and payload, so a
 * voucher admits that one registration and nothing else. Pure: no files, no HTTP.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import {
  ED25519_PUBLIC_KEY_LENGTH,
  importSigningPublicKey,
  signBytes,
  verifyBytes,
} from "../envelope/signature.ts";

/** A voucher, carried as the registration's `relayVoucher` member. */
export interface RelayVoucher {
  /** The vouching relay's raw Ed25519 public key, base64url. */
  publicKey: string;
  /** Its signature over the registration, base64url. */
  signature: string;
}

const encoder = new TextEncoder();
const BASE64URL = /^[A-Za-z0-9_-]{1,200}$/;

function signedBytes(registration: FlattenedJws): Uint8Array<ArrayBuffer> {
  return encoder.encode(`mle-relay-voucher.${registration.protected}.${registration.payload}`);
}

/**
 * Signs a voucher for a registration.
 *
 * @example
 * ```ts
 * import { signRelayVoucher, verifyRelayVoucher } from "./relay_voucher.ts";
 * import { encodeBase64Url } from "../envelope/base64url.ts";
 * import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
 * const relay = await generateSigningKeyPair();
 * const key = encodeBase64Url(await exportSigningPublicKey(relay.publicKey));
 * const registration = { protected: "e30", payload: "e30", signature: "" };
 * const voucher = await signRelayVoucher(relay.privateKey, key, registration);
 * console.log(await verifyRelayVoucher(voucher, registration) === key); // true
 * ```
 */
export async function signRelayVoucher(
  relayPrivateKey: CryptoKey,
  relayPublicKey: string,
  registration: FlattenedJws,
): Promise<RelayVoucher> {
  const signature = await signBytes(relayPrivateKey, signedBytes(registration));
  return { publicKey: relayPublicKey, signature: encodeBase64Url(signature) };
}

/**
 * Checks a voucher (any value, as received) against the registration it came with.
 *
 * @returns the vouching relay's public key when the signature is good, else null.
 */
export async function verifyRelayVoucher(
  value: unknown,
  registration: FlattenedJws,
): Promise<string | null> {
  if (typeof value !== "object" || value === null) return null;
  const { publicKey, signature } = value as Partial<RelayVoucher>;
  if (
    typeof publicKey !== "string" || typeof signature !== "string" ||
    !BASE64URL.test(publicKey) || !BASE64URL.test(signature)
  ) {
    return null;
  }
  try {
    const raw = decodeBase64Url(publicKey);
    if (raw.length !== ED25519_PUBLIC_KEY_LENGTH) return null;
    const key = await importSigningPublicKey(raw);
    const good = await verifyBytes(key, decodeBase64Url(signature), signedBytes(registration));
    return good ? publicKey : null;
  } catch {
    return null;
  }
}

/** True for a well-formed relay public key (raw Ed25519, base64url), as `--trust-relay` takes. */
export function isRelayPublicKey(value: string): boolean {
  if (!BASE64URL.test(value)) return false;
  try {
    return decodeBase64Url(value).length === ED25519_PUBLIC_KEY_LENGTH;
  } catch {
    return false;
  }
}
