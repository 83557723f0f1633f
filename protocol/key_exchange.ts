/**
 * The manual key exchange with an authenticating relay (the original's
 * `-register <password> <relay-url>`): the client proves it knows a relay password by an
 * HMAC-SHA256 over its signed registration, so the password itself never crosses the network.
 *
 * An eavesdropper who records the exchange can still try to guess a weak password offline, as with
 * any password scheme without a PAKE: use long one-time passwords.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import type { FlattenedJws } from "../envelope/jws.ts";

const encoder = new TextEncoder();

/** The member a registration body carries beside the JWS at an authenticating relay. */
export interface KeyExchangeProof {
  /** HMAC-SHA256(password, "mle-key-exchange." + protected + "." + payload), base64url. */
  proof: string;
}

async function hmacKey(password: string): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "raw",
    encoder.encode(password),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

function signedInput(registration: FlattenedJws): Uint8Array<ArrayBuffer> {
  return encoder.encode(`mle-key-exchange.${registration.protected}.${registration.payload}`);
}

/**
 * Proves knowledge of `password` for one registration.
 *
 * @example
 * ```ts ignore
 * const body = { ...registration, keyExchange: await proveKeyExchange(registration, password) };
 * ```
 */
export async function proveKeyExchange(
  registration: FlattenedJws,
  password: string,
): Promise<KeyExchangeProof> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(password), signedInput(registration));
  return { proof: encodeBase64Url(new Uint8Array(mac)) };
}

/** Checks a proof against one candidate password, in constant time (Web Crypto's HMAC verify). */
export async function checkKeyExchange(
  registration: FlattenedJws,
  proof: unknown,
  password: string,
): Promise<boolean> {
  const text = (proof as KeyExchangeProof | null)?.proof;
  if (typeof text !== "string" || text.length > 64) return false;
  let mac: Uint8Array<ArrayBuffer>;
  try {
    mac = decodeBase64Url(text);
  } catch {
    return false;
  }
  return await crypto.subtle.verify(
    "HMAC",
    await hmacKey(password),
    mac,
    signedInput(registration),
  );
}
