/**
 * A relay's signed request: how a relay proves, on a plain GET, that it is the registered
 * computer it claims to be. The header `X-MLE-Relay-Auth: <computer id>.<time ms>.<signature>`
 * carries an Ed25519 signature, by the relay's own key (`relay/relay_identity.ts`), over the
 * computer id, the time, the method and the path, so that it opens that one resource, for a few
 * minutes, and nothing else. Pure: no files, no HTTP.
 *
 * The server reads the header's shape and time before any lookup or signature check, so a
 * request without a valid one costs it a regular expression.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import { ED25519_SIGNATURE_LENGTH, signBytes, verifyBytes } from "../envelope/signature.ts";

/** The header a relay's signed request carries. */
export const RELAY_AUTH_HEADER = "x-mle-relay-auth";
/** How far a signed request's time may be from the server's, in milliseconds. */
export const RELAY_REQUEST_MAX_SKEW_MS = 5 * 60 * 1000;

/** A signed request's header, read but not verified. */
export interface RelayRequestAuth {
  computerId: number;
  issuedAt: number;
  signature: Uint8Array<ArrayBuffer>;
}

const HEADER_PATTERN = /^([1-9][0-9]{0,15})\.([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{86})$/;
const encoder = new TextEncoder();

function signedBytes(
  computerId: number,
  issuedAt: number,
  method: string,
  path: string,
): Uint8Array<ArrayBuffer> {
  return encoder.encode(`mle-relay-request.${computerId}.${issuedAt}.${method} ${path}`);
}

/**
 * Signs a request: the value of its `X-MLE-Relay-Auth` header.
 *
 * @example
 * ```ts
 * import { readRelayRequestAuth, signRelayRequest, verifyRelayRequest } from "./relay_request.ts";
 * import { generateSigningKeyPair } from "../envelope/signature.ts";
 * const relay = await generateSigningKeyPair();
 * const header = await signRelayRequest(relay.privateKey, 12, "GET", "/api/v1/computers/7");
 * const auth = readRelayRequestAuth(header)!;
 * console.log(await verifyRelayRequest(relay.publicKey, auth, "GET", "/api/v1/computers/7")); // true
 * ```
 */
export async function signRelayRequest(
  relayPrivateKey: CryptoKey,
  computerId: number,
  method: string,
  path: string,
  issuedAt = Date.now(),
): Promise<string> {
  const signature = await signBytes(
    relayPrivateKey,
    signedBytes(computerId, issuedAt, method, path),
  );
  return `${computerId}.${issuedAt}.${encodeBase64Url(signature)}`;
}

/** Reads a header's shape (no verification), or null when it is absent or malformed. */
export function readRelayRequestAuth(header: string | null | undefined): RelayRequestAuth | null {
  const match = header ? HEADER_PATTERN.exec(header) : null;
  if (!match) return null;
  const computerId = Number(match[1]);
  const issuedAt = Number(match[2]);
  if (!Number.isSafeInteger(computerId) || !Number.isSafeInteger(issuedAt)) return null;
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = decodeBase64Url(match[3]);
  } catch {
    return null; // not canonical base64url (its last character carries stray bits)
  }
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return null;
  return { computerId, issuedAt, signature };
}

/** Whether a signed request's time is within {@linkcode RELAY_REQUEST_MAX_SKEW_MS} of `now`. */
export function isRelayRequestFresh(auth: RelayRequestAuth, now = Date.now()): boolean {
  return Math.abs(now - auth.issuedAt) <= RELAY_REQUEST_MAX_SKEW_MS;
}

/** Whether the header's signature is the relay's, over this method and path. */
export async function verifyRelayRequest(
  relayPublicKey: CryptoKey,
  auth: RelayRequestAuth,
  method: string,
  path: string,
): Promise<boolean> {
  return await verifyBytes(
    relayPublicKey,
    auth.signature,
    signedBytes(auth.computerId, auth.issuedAt, method, path),
  );
}
