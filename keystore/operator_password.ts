/**
 * Console operators' passwords, stored as a slow salted hash: scrypt (RFC 7914) with N = 2^15,
 * r = 8, p = 1 (32 MiB and about a tenth of a second per guess) and a 16-byte random salt. The
 * parameters travel in the stored text, so stronger ones can be chosen later without breaking old
 * hashes. `mle-admin operators` hashes; the server's console verifies.
 *
 * @module
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";

/** Longest password accepted: the hash's cost must not grow with what a stranger sends. */
export const MAX_OPERATOR_PASSWORD_LENGTH = 1024;
/** Shortest password `mle-admin operators` accepts. */
export const MIN_OPERATOR_PASSWORD_LENGTH = 12;

const PARAMETERS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_LENGTH,
      { ...params, maxmem: 256 * params.N * params.r },
      (error, key) => error ? reject(error) : resolve(new Uint8Array(key)),
    )
  );
}

/**
 * Hashes a password for storage.
 *
 * @example
 * ```ts
 * import { hashOperatorPassword, verifyOperatorPassword } from "./operator_password.ts";
 * const stored = await hashOperatorPassword("a long passphrase");
 * console.log(await verifyOperatorPassword("a long passphrase", stored)); // true
 * ```
 */
export async function hashOperatorPassword(password: string): Promise<string> {
  if (password.length === 0 || password.length > MAX_OPERATOR_PASSWORD_LENGTH) {
    throw new RangeError(
      `Cannot hash password: expected 1 to ${MAX_OPERATOR_PASSWORD_LENGTH} characters`,
    );
  }
  const salt = new Uint8Array(randomBytes(16));
  const key = await derive(password, salt, PARAMETERS);
  const { N, r, p } = PARAMETERS;
  return `scrypt$${N}$${r}$${p}$${encodeBase64Url(salt)}$${encodeBase64Url(key)}`;
}

/**
 * Checks a password against a stored hash in constant time; false for a malformed hash or a
 * password longer than {@linkcode MAX_OPERATOR_PASSWORD_LENGTH} (checked before any work).
 */
export async function verifyOperatorPassword(password: string, stored: string): Promise<boolean> {
  if (password.length === 0 || password.length > MAX_OPERATOR_PASSWORD_LENGTH) return false;
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every(Number.isSafeInteger) || N < 2 ** 14 || N > 2 ** 20 || r > 32 || p > 4) {
    return false;
  }
  let salt: Uint8Array, expected: Uint8Array;
  try {
    salt = decodeBase64Url(parts[4]);
    expected = decodeBase64Url(parts[5]);
  } catch {
    return false;
  }
  if (expected.length !== KEY_LENGTH) return false;
  return timingSafeEqual(await derive(password, salt, { N, r, p }), expected);
}

/** A hash no password matches, to spend the same time on an unknown name as on a known one. */
export const UNKNOWN_OPERATOR_HASH = `scrypt$${PARAMETERS.N}$${PARAMETERS.r}$${PARAMETERS.p}$` +
  `${encodeBase64Url(new Uint8Array(16))}$${encodeBase64Url(new Uint8Array(KEY_LENGTH))}`;
