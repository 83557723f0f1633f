/**
 * Password-based sealing of a private key: PBKDF2-HMAC-SHA256 (iteration count stored beside the
 * salt, at least 600,000 as OWASP's 2023 guidance for PBKDF2-SHA256) derives an AES-256-GCM key.
 * Every parameter is authenticated as additional data, so lowering the count or swapping the public
 * key in the file makes the password check fail instead of weakening the key. Pure: bytes only.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";

/** Fewest PBKDF2 iterations accepted when sealing or opening. */
export const MIN_PBKDF2_ITERATIONS = 600_000;

/** A password-sealed secret as stored (JSON). */
export interface PasswordSealed {
  format: string;
  kdf: { name: "PBKDF2"; hash: "SHA-256"; iterations: number; salt: string };
  cipher: { name: "AES-256-GCM"; iv: string };
  /** Public data bound to the secret (for example the public key), authenticated. */
  publicData: string;
  ciphertext: string;
}

const encoder = new TextEncoder();

/**
 * Seals a secret under a password.
 *
 * @example
 * ```ts
 * import { sealWithPassword, openWithPassword } from "./password_seal.ts";
 * const sealed = await sealWithPassword("demo/1", new Uint8Array([1, 2]), "pk", "correct horse");
 * console.log(await openWithPassword(sealed, "correct horse")); // Uint8Array [1, 2]
 * ```
 */
export async function sealWithPassword(
  format: string,
  secret: Uint8Array<ArrayBuffer>,
  publicData: string,
  password: string,
  iterations = MIN_PBKDF2_ITERATIONS,
): Promise<PasswordSealed> {
  if (password.length === 0) throw new RangeError("Cannot seal with an empty password");
  if (iterations < MIN_PBKDF2_ITERATIONS) {
    throw new RangeError(
      `Cannot seal with ${iterations} iterations: at least ${MIN_PBKDF2_ITERATIONS}`,
    );
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const header = {
    format,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations, salt: encodeBase64Url(salt) },
    cipher: { name: "AES-256-GCM", iv: encodeBase64Url(iv) },
    publicData,
  } as const;
  const key = await deriveKey(password, salt, iterations);
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: additionalData(header) },
    key,
    secret,
  );
  return { ...header, ciphertext: encodeBase64Url(new Uint8Array(ciphertext)) };
}

/**
 * Opens a sealed secret.
 *
 * @throws {MleError} `ERR_WRONG_PASSWORD` when the password is wrong or the file was altered;
 * `ERR_KEY_INVALID` when the structure is not one we write.
 */
export async function openWithPassword(
  sealed: unknown,
  password: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const { sealed: s, salt, iv, ciphertext } = readPasswordSealed(sealed);
  const key = await deriveKey(password, salt, s.kdf.iterations);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: additionalData(s) },
        key,
        ciphertext,
      ),
    );
  } catch {
    throw new MleError(
      "ERR_WRONG_PASSWORD",
      "Cannot open key: wrong password, or the key file was altered",
    );
  }
}

function additionalData(s: Omit<PasswordSealed, "ciphertext">): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify([
    s.format,
    s.kdf.name,
    s.kdf.hash,
    s.kdf.iterations,
    s.kdf.salt,
    s.cipher.name,
    s.cipher.iv,
    s.publicData,
  ]));
}

async function deriveKey(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveKey",
  ]);
  return await crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * Reads the structure of a sealed secret (as parsed from its file) before any key derivation:
 * the members, an iteration count in the accepted range, and the salt, IV and ciphertext as
 * base64url.
 *
 * @throws {MleError} `ERR_KEY_INVALID` when it is not a structure we write.
 */
export function readPasswordSealed(value: unknown): {
  sealed: PasswordSealed;
  salt: Uint8Array<ArrayBuffer>;
  iv: Uint8Array<ArrayBuffer>;
  ciphertext: Uint8Array<ArrayBuffer>;
} {
  const sealed = checkSealed(value);
  try {
    return {
      sealed,
      salt: decodeBase64Url(sealed.kdf.salt),
      iv: decodeBase64Url(sealed.cipher.iv),
      ciphertext: decodeBase64Url(sealed.ciphertext),
    };
  } catch (cause) {
    throw new MleError("ERR_KEY_INVALID", "Cannot read key file: a value is not base64url", {
      cause,
    });
  }
}

function checkSealed(value: unknown): PasswordSealed {
  const s = value as PasswordSealed;
  const ok = typeof s === "object" && s !== null && typeof s.format === "string" &&
    s.kdf?.name === "PBKDF2" && s.kdf.hash === "SHA-256" &&
    Number.isSafeInteger(s.kdf.iterations) &&
    typeof s.kdf.salt === "string" && s.cipher?.name === "AES-256-GCM" &&
    typeof s.cipher.iv === "string" && typeof s.publicData === "string" &&
    typeof s.ciphertext === "string";
  if (!ok) throw new MleError("ERR_KEY_INVALID", "Cannot read key file: unknown format");
  if (s.kdf.iterations < MIN_PBKDF2_ITERATIONS || s.kdf.iterations > 100_000_000) {
    throw new MleError(
      "ERR_KEY_INVALID",
      `Cannot read key file: ${s.kdf.iterations} PBKDF2 iterations is outside the accepted range`,
    );
  }
  return s;
}
