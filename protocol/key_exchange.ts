/**
 * The manual key exchange with an authenticating relay (the original's
 * `-register <password> <relay-url>`): the client proves it knows a relay password without
 * sending it.
 *
 * Each authenticating relay publishes a random salt (`GET /api/v1/key-exchange`, with the salts
 * of the authenticating relays above it). A password's key for one salt is
 * PBKDF2-SHA256(password, "mle-key-exchange-v2." ‖ salt, 600,000 iterations): the relay derives
 * it once per password when it starts, the client once per salt when it registers. From that key
 * come a public id (which password this is, so the relay checks one MAC, not one per one-time
 * password) and the proof, an HMAC over the signed registration.
 *
 * @remarks Someone who records a registration (on the path, or a relay below that passes the
 * proof on) can still test guesses offline, but each guess costs the slow derivation with that
 * relay's salt, and no table computed for another relay helps. An active attacker who answers in
 * the relay's place may choose the salt; it cannot lower the iterations, which the client checks.
 * Long random one-time passwords remain the defence against guessing.
 * @see https://www.rfc-editor.org/rfc/rfc8018#section-5.2 (PBKDF2)
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import { concatBytes } from "../envelope/concat_bytes.ts";
import type { FlattenedJws } from "../envelope/jws.ts";

const encoder = new TextEncoder();

/** The only derivation clients accept. */
export const KEY_EXCHANGE_KDF = "PBKDF2-SHA256";
/** PBKDF2 iterations: OWASP's figure for PBKDF2-HMAC-SHA256 (2023). */
export const KEY_EXCHANGE_ITERATIONS = 600_000;
/** Bytes of a relay's salt. */
export const KEY_EXCHANGE_SALT_BYTES = 16;
/** Most salts (authenticating relays on the way up) a client derives a key for. */
export const MAX_KEY_EXCHANGE_SALTS = 4;

/** What `GET /api/v1/key-exchange` answers. */
export interface KeyExchangeParameters {
  kdf: typeof KEY_EXCHANGE_KDF;
  iterations: number;
  /** The answering relay's salt first (if it authenticates), then those above it; base64url. */
  salts: string[];
}

/** A password's key for one salt: its public id, and the key proofs are made with. */
export interface PasswordKey {
  salt: string;
  /** HMAC(key, "mle-key-exchange-id"), base64url: names the password without revealing it. */
  id: string;
  key: CryptoKey;
}

/** One proof, for the relay whose salt it names. */
export interface SaltedProof {
  salt: string;
  id: string;
  /** HMAC(key, "mle-key-exchange-proof." + protected + "." + payload), base64url. */
  mac: string;
}

/** The member a registration body carries beside the JWS for authenticating relays. */
export interface KeyExchangeProof {
  proofs: SaltedProof[];
}

const SALT_PATTERN = /^[A-Za-z0-9_-]{22,88}$/;
const MAC_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Builds the parameters a relay publishes.
 *
 * @example
 * ```ts
 * import { keyExchangeParameters, newKeyExchangeSalt } from "./key_exchange.ts";
 * console.log(keyExchangeParameters([newKeyExchangeSalt()]).iterations); // 600000
 * ```
 */
export function keyExchangeParameters(salts: string[]): KeyExchangeParameters {
  return { kdf: KEY_EXCHANGE_KDF, iterations: KEY_EXCHANGE_ITERATIONS, salts };
}

/** A fresh random salt, base64url. */
export function newKeyExchangeSalt(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(KEY_EXCHANGE_SALT_BYTES)));
}

/** True for a salt as relays publish them (16 to 64 bytes, base64url). */
export function isKeyExchangeSalt(value: unknown): value is string {
  return typeof value === "string" && SALT_PATTERN.test(value);
}

/**
 * Reads published parameters (any value, as received), refusing a derivation weaker (or much
 * costlier) than this version's: the client, not the answer, decides how slow a guess must be.
 *
 * @throws {RangeError} Saying what is wrong.
 */
export function readKeyExchangeParameters(value: unknown): KeyExchangeParameters {
  const v = (value ?? {}) as Partial<KeyExchangeParameters>;
  if (v.kdf !== KEY_EXCHANGE_KDF || v.iterations !== KEY_EXCHANGE_ITERATIONS) {
    throw new RangeError(
      `Cannot use the relay's key-exchange parameters: expected ${KEY_EXCHANGE_KDF} with ` +
        `${KEY_EXCHANGE_ITERATIONS} iterations`,
    );
  }
  const salts = Array.isArray(v.salts) ? v.salts : [];
  if (salts.length > MAX_KEY_EXCHANGE_SALTS || !salts.every(isKeyExchangeSalt)) {
    throw new RangeError(
      `Cannot use the relay's key-exchange parameters: expected up to ` +
        `${MAX_KEY_EXCHANGE_SALTS} salts of 16 to 64 bytes, base64url`,
    );
  }
  return keyExchangeParameters([...new Set(salts as string[])]);
}

/**
 * Derives a password's key for one salt: deliberately slow (PBKDF2, 600,000 iterations).
 *
 * @example
 * ```ts ignore
 * const key = await derivePasswordKey("correct horse battery staple", salt);
 * ```
 */
export async function derivePasswordKey(password: string, salt: string): Promise<PasswordKey> {
  if (!isKeyExchangeSalt(salt)) throw new RangeError("Cannot derive a key: malformed salt");
  const material = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    {
      name: "PBKDF2",
      hash: "SHA-256",
      salt: concatBytes([encoder.encode("mle-key-exchange-v2."), decodeBase64Url(salt)]),
      iterations: KEY_EXCHANGE_ITERATIONS,
    },
    material,
    256,
  );
  const key = await crypto.subtle.importKey(
    "raw",
    bits,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const id = await crypto.subtle.sign("HMAC", key, encoder.encode("mle-key-exchange-id"));
  return { salt, id: encodeBase64Url(new Uint8Array(id)), key };
}

function signedInput(registration: FlattenedJws): Uint8Array<ArrayBuffer> {
  return encoder.encode(`mle-key-exchange-proof.${registration.protected}.${registration.payload}`);
}

/**
 * Proves knowledge of a password for one registration, to each relay whose salt a key is for.
 *
 * @example
 * ```ts ignore
 * const keys = [await derivePasswordKey(password, salt)];
 * const body = { ...registration, keyExchange: await proveKeyExchange(registration, keys) };
 * ```
 */
export async function proveKeyExchange(
  registration: FlattenedJws,
  keys: PasswordKey[],
): Promise<KeyExchangeProof> {
  const proofs = await Promise.all(keys.map(async ({ salt, id, key }) => {
    const mac = await crypto.subtle.sign("HMAC", key, signedInput(registration));
    return { salt, id, mac: encodeBase64Url(new Uint8Array(mac)) };
  }));
  return { proofs };
}

/**
 * Finds the proof for `salt` in a received `keyExchange` member (any value), or null when there
 * is none or it is malformed. Bounded: at most {@linkcode MAX_KEY_EXCHANGE_SALTS} entries read.
 */
export function proofForSalt(value: unknown, salt: string): SaltedProof | null {
  const proofs = (value as Partial<KeyExchangeProof> | null)?.proofs;
  if (!Array.isArray(proofs)) return null;
  for (const entry of proofs.slice(0, MAX_KEY_EXCHANGE_SALTS)) {
    const { salt: entrySalt, id, mac } = (entry ?? {}) as Partial<SaltedProof>;
    if (entrySalt !== salt) continue;
    if (!isMacText(id) || !isMacText(mac)) return null;
    return { salt, id, mac };
  }
  return null;
}

/** Checks one proof with the key its id named: one HMAC, in constant time (Web Crypto verify). */
export async function checkProof(
  registration: FlattenedJws,
  proof: SaltedProof,
  key: CryptoKey,
): Promise<boolean> {
  return await crypto.subtle.verify(
    "HMAC",
    key,
    decodeBase64Url(proof.mac),
    signedInput(registration),
  );
}

/** 32 bytes in canonical base64url (43 characters, the last one's unused bits zero). */
function isMacText(value: unknown): value is string {
  if (typeof value !== "string" || !MAC_PATTERN.test(value)) return false;
  try {
    decodeBase64Url(value);
    return true;
  } catch {
    return false;
  }
}
