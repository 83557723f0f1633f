/**
 * JWE (RFC 7516) in flattened JSON serialization with `alg` RSA-OAEP-256 and `enc` A256GCM only.
 *
 * A content key (CEK) is made by the sender, wrapped once to the recipient's RSA key, and may seal
 * a bounded number of messages (see `content_key_policy.ts`), each with a fresh random 96-bit IV.
 * The wrapped key is then byte-identical across those messages, which lets the receiver memoise
 * the one RSA private-key operation per content key.
 *
 * The receiver decides the algorithms: a header naming anything but RSA-OAEP-256/A256GCM is refused
 * with the same opaque error as a bad tag (RFC 7516 §11.5).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7516} JSON Web Encryption
 * @module
 */

import { GCM_IV_LENGTH, GCM_TAG_LENGTH, openAesGcm, sealAesGcm } from "./aes_gcm.ts";
import {
  decodeBase64Url,
  decodeBase64UrlText,
  encodeBase64Url,
  encodeBase64UrlText,
} from "./base64url.ts";
import { twinAesKey } from "./_node_crypto.ts";
import { decryptionFailed, MleError } from "./errors.ts";
import { isKeyId } from "./encryption_key.ts";

/** A JWE in flattened JSON serialization (RFC 7516 §7.2.2). */
export interface FlattenedJwe {
  protected: string;
  encrypted_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

/** The protected header of our JWE. Other members (`cid`, `seq`, …) are bound by the tag too. */
export interface JweHeader {
  alg: "RSA-OAEP-256";
  enc: "A256GCM";
  kid: string;
  [name: string]: unknown;
}

/** A content key ready to seal: the AES key, its wrapped form and the recipient key id. */
export interface ContentKey {
  /** Key id of the recipient's RSA key. */
  kid: string;
  /** The CEK wrapped with RSA-OAEP-256, base64url: the same bytes in every message it seals. */
  encryptedKey: string;
  /** The CEK as a non-extractable AES-256-GCM key. */
  key: CryptoKey;
}

/** Length of the AES-256 content key in bytes. */
export const CONTENT_KEY_LENGTH = 32;

const RSA_OAEP = { name: "RSA-OAEP" } as const;
const encoder = new TextEncoder();

/**
 * Makes a fresh random content key and wraps it to the recipient's RSA-OAEP-256 public key.
 *
 * @returns the content key and its raw bytes (for the sender's own sealed store of it).
 * @example
 * ```ts
 * import { createContentKey } from "./jwe.ts";
 * import { generateEncryptionKeyPair, encryptionKeyId } from "./encryption_key.ts";
 * const pair = await generateEncryptionKeyPair(2048);
 * const { contentKey } = await createContentKey(pair.publicKey, await encryptionKeyId(pair.publicKey));
 * console.log(contentKey.encryptedKey.length); // 342 (256 bytes in base64url)
 * ```
 */
export async function createContentKey(
  recipientPublicKey: CryptoKey,
  kid: string,
): Promise<{ contentKey: ContentKey; raw: Uint8Array<ArrayBuffer> }> {
  const raw = crypto.getRandomValues(new Uint8Array(CONTENT_KEY_LENGTH));
  const wrapped = new Uint8Array(await crypto.subtle.encrypt(RSA_OAEP, recipientPublicKey, raw));
  return { contentKey: await importContentKey(raw, kid, encodeBase64Url(wrapped)), raw };
}

/**
 * Rebuilds a content key from its raw bytes and wrapped form (a sender reusing its CEK). The
 * sender seals with it through node:crypto ({@linkcode encryptJwe}): a sender seals one message
 * at a time, and a synchronous call is then about twice as fast as a Web Crypto round trip, with
 * the same bytes out (node_crypto_test.ts).
 */
export async function importContentKey(
  raw: Uint8Array<ArrayBuffer>,
  kid: string,
  encryptedKey: string,
): Promise<ContentKey> {
  if (raw.length !== CONTENT_KEY_LENGTH) {
    throw new RangeError(
      `Cannot use content key: expected ${CONTENT_KEY_LENGTH} bytes, got ${raw.length}`,
    );
  }
  return { kid, encryptedKey, key: await importAesKey(raw) };
}

/**
 * Imports 32 raw bytes as a non-extractable AES-256-GCM key, with its node:crypto twin
 * (`aes_gcm.ts` seals and opens through it).
 */
export async function importAesKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  twinAesKey(key, raw);
  return key;
}

/**
 * Seals a plaintext with a content key. `header` adds members to the protected header (they are
 * authenticated as additional data); `alg`, `enc` and `kid` are always ours.
 */
export async function encryptJwe(
  contentKey: ContentKey,
  header: Record<string, unknown>,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<FlattenedJwe> {
  const protectedHeader = encodeBase64UrlText(
    JSON.stringify({ ...header, alg: "RSA-OAEP-256", enc: "A256GCM", kid: contentKey.kid }),
  );
  return await encryptJweUnderHeader(contentKey, protectedHeader, plaintext);
}

/**
 * Seals a plaintext with a content key under a protected header exactly as given (base64url),
 * authenticated as additional data. {@linkcode encryptJwe} is the way to seal a message: this is
 * its last step, open to tests that need a header it never writes.
 */
export async function encryptJweUnderHeader(
  contentKey: ContentKey,
  protectedHeader: string,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<FlattenedJwe> {
  const iv = crypto.getRandomValues(new Uint8Array(GCM_IV_LENGTH));
  const additionalData = encoder.encode(protectedHeader);
  const joined = await sealAesGcm(contentKey.key, iv, additionalData, plaintext);
  const tagAt = joined.length - GCM_TAG_LENGTH;
  return {
    protected: protectedHeader,
    encrypted_key: contentKey.encryptedKey,
    iv: encodeBase64Url(iv),
    ciphertext: encodeBase64Url(joined.subarray(0, tagAt)),
    tag: encodeBase64Url(joined.subarray(tagAt)),
  };
}

/**
 * Checks the shape of a flattened JWE and reads its protected header, before any key is touched.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` when it is not a flattened JWE at all;
 * `ERR_DECRYPTION_FAILED` when the header is unreadable or names other algorithms (opaque).
 */
export function readJweHeader(value: unknown): { jwe: FlattenedJwe; header: JweHeader } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read envelope: expected a JSON object");
  }
  const jwe = value as Record<string, unknown>;
  for (const member of ["protected", "encrypted_key", "iv", "ciphertext", "tag"]) {
    if (typeof jwe[member] !== "string") {
      throw new MleError(
        "ERR_ENVELOPE_MALFORMED",
        `Cannot read envelope: member "${member}" must be a string`,
      );
    }
  }
  // A JWE with unprotected headers or AAD is not one of ours; refuse rather than ignore them.
  if ("unprotected" in jwe || "header" in jwe || "aad" in jwe || "recipients" in jwe) {
    throw decryptionFailed();
  }
  let header: unknown;
  try {
    header = JSON.parse(decodeBase64UrlText(jwe.protected as string));
  } catch {
    throw decryptionFailed();
  }
  if (
    typeof header !== "object" || header === null || Array.isArray(header) ||
    (header as JweHeader).alg !== "RSA-OAEP-256" || (header as JweHeader).enc !== "A256GCM" ||
    !isKeyId((header as JweHeader).kid) || "zip" in header || "crit" in header
  ) {
    throw decryptionFailed();
  }
  return { jwe: jwe as unknown as FlattenedJwe, header: header as JweHeader };
}

/**
 * Unwraps a content key with the recipient's RSA private key: the one expensive operation.
 * The wrapped key's length must equal the modulus length before RSA is attempted.
 *
 * @returns the raw CEK, or `null` when the wrapped key does not decrypt to 32 bytes; the caller
 * then goes on with a random key so that every failure takes the same path (RFC 7516 §11.5).
 */
export async function unwrapContentKey(
  privateKey: CryptoKey,
  encryptedKey: string,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const modulusBytes = (privateKey.algorithm as RsaHashedKeyAlgorithm).modulusLength / 8;
  let wrapped: Uint8Array<ArrayBuffer>;
  try {
    wrapped = decodeBase64Url(encryptedKey);
  } catch {
    return null;
  }
  if (wrapped.length !== modulusBytes) return null;
  try {
    const raw = new Uint8Array(await crypto.subtle.decrypt(RSA_OAEP, privateKey, wrapped));
    return raw.length === CONTENT_KEY_LENGTH ? raw : null;
  } catch {
    return null;
  }
}

/**
 * Opens a JWE whose header was read by {@linkcode readJweHeader}, with the content key the caller
 * resolved (from its memo or {@linkcode unwrapContentKey}); `null` stands for a failed unwrap.
 *
 * @throws {MleError} `ERR_DECRYPTION_FAILED`, the same for every kind of failure.
 */
export async function decryptJwe(
  jwe: FlattenedJwe,
  contentKey: CryptoKey | null,
): Promise<Uint8Array<ArrayBuffer>> {
  let iv: Uint8Array<ArrayBuffer>;
  let ciphertext: Uint8Array<ArrayBuffer>;
  let tag: Uint8Array<ArrayBuffer>;
  try {
    iv = decodeBase64Url(jwe.iv);
    ciphertext = decodeBase64Url(jwe.ciphertext);
    tag = decodeBase64Url(jwe.tag);
  } catch {
    throw decryptionFailed();
  }
  if (iv.length !== GCM_IV_LENGTH || tag.length !== GCM_TAG_LENGTH) throw decryptionFailed();
  const key = contentKey ?? await importAesKey(crypto.getRandomValues(new Uint8Array(32)));
  const additionalData = encoder.encode(jwe.protected);
  const sealed = new Uint8Array(ciphertext.length + GCM_TAG_LENGTH);
  sealed.set(ciphertext);
  sealed.set(tag, ciphertext.length);
  const opened = await openAesGcm(key, iv, additionalData, sealed);
  if (opened === null) throw decryptionFailed();
  return opened;
}

/** The JWE compact serialization: the exact bytes a client's outer signature covers. */
export function toCompactJwe(jwe: FlattenedJwe): string {
  return `${jwe.protected}.${jwe.encrypted_key}.${jwe.iv}.${jwe.ciphertext}.${jwe.tag}`;
}
