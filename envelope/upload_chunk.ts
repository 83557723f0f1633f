/**
 * One chunk of an upload, as it travels: sealed with AES-256-GCM (encrypting), or signed with the
 * client's Ed25519 key (clear). Pure Web Crypto and bytes.
 *
 * Both forms authenticate the chunk's **context**: the computer id, the upload id, the chunk's
 * index and whether it is the final chunk. So a chunk cannot be moved to another index
 * (reordered), another upload or computer, and a file cannot be cut short by presenting an
 * earlier chunk as the last one; the receiver, which knows the chunk count from the signed
 * manifest, stores the file only once it holds every index exactly once, so a dropped chunk keeps
 * the upload incomplete and a duplicated one is recognised by its index.
 *
 * Keys: the file key (32 random bytes, fresh per upload, wrapped once to the server's RSA key as
 * the manifest's JWE content key) is never used on chunks directly. The chunk key is derived from
 * it with HKDF-SHA-256 (salt: the upload id; info: a label naming the purpose), so the manifest's
 * random-IV encryption and the chunks' deterministic nonces never share a key.
 *
 * @see {@link https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf} GCM, §8 (IV uniqueness)
 * @see {@link https://www.rfc-editor.org/rfc/rfc5869} HKDF
 * @module
 */

import { GCM_IV_LENGTH, GCM_TAG_LENGTH, openAesGcm, sealAesGcm } from "./aes_gcm.ts";
import { decryptionFailed, MleError } from "./errors.ts";
import { signBytes, verifyBytes } from "./signature.ts";

/** What a chunk is bound to. */
export interface ChunkContext {
  cid: number;
  /** Upload id: 32 lowercase hex digits. */
  uid: string;
  index: number;
  /** True for the upload's last chunk only. */
  final: boolean;
}

/**
 * The shape of the four chunk operations (seal and open a sealed chunk, sign and open a clear
 * one): a key (the chunk key, or the client's signing key), the chunk's place in its upload, and
 * its bytes in; its bytes out.
 */
export type ChunkOperation = (
  key: CryptoKey,
  context: ChunkContext,
  bytes: Uint8Array<ArrayBuffer>,
) => Promise<Uint8Array<ArrayBuffer>>;

/** Length of the Ed25519 signature in front of a clear chunk's bytes. */
export const CHUNK_SIGNATURE_LENGTH = 64;
/** Length of a file key. */
export const FILE_KEY_LENGTH = 32;

const KEY_INFO = "mle-upload-chunk-key/1";
const SEALED_LABEL = "mle-upload-chunk/1";
const CLEAR_LABEL = "mle-upload-chunk-clear/1";
const encoder = new TextEncoder();

/**
 * Derives the chunk key of an upload from its file key.
 *
 * @throws {RangeError} When the file key is not 32 bytes or the upload id is malformed.
 * @example
 * ```ts
 * import { deriveChunkKey } from "./upload_chunk.ts";
 * const key = await deriveChunkKey(new Uint8Array(32), "00112233445566778899aabbccddeeff");
 * console.log(key.algorithm.name); // "AES-GCM"
 * ```
 */
export async function deriveChunkKey(
  fileKey: Uint8Array<ArrayBuffer>,
  uid: string,
): Promise<CryptoKey> {
  if (fileKey.length !== FILE_KEY_LENGTH) {
    throw new RangeError(
      `Cannot derive chunk key: expected a ${FILE_KEY_LENGTH}-byte file key, got ${fileKey.length}`,
    );
  }
  const ikm = await crypto.subtle.importKey("raw", fileKey, "HKDF", false, ["deriveKey"]);
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: uidBytes(uid), info: encoder.encode(KEY_INFO) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * The 96-bit GCM nonce of chunk `index`: four zero bytes, then the index as a big-endian 64-bit
 * number.
 *
 * A deterministic nonce is safe here, and only here, because the key it is used with is never
 * used for anything else: every upload gets a fresh random file key (so a fresh chunk key), the
 * client snapshots the file when it queues it (so chunk `index` always has the same plaintext,
 * and sealing it again after a restart yields the same bytes), and a new manifest (another
 * server key, another computer id, a change of level) always comes with a new upload id and a new
 * file key. Under one key each index, hence each nonce, seals exactly one plaintext, which is
 * all GCM requires (SP 800-38D §8).
 */
export function chunkNonce(index: number): Uint8Array<ArrayBuffer> {
  checkIndex(index);
  const nonce = new Uint8Array(GCM_IV_LENGTH);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(index));
  return nonce;
}

/**
 * Seals one chunk: ciphertext followed by the 16-byte tag, with the context as additional data.
 *
 * @example
 * ```ts
 * import { deriveChunkKey, openChunk, sealChunk } from "./upload_chunk.ts";
 * const key = await deriveChunkKey(crypto.getRandomValues(new Uint8Array(32)), "00112233445566778899aabbccddeeff");
 * const context = { cid: 7, uid: "00112233445566778899aabbccddeeff", index: 0, final: true };
 * const sealed = await sealChunk(key, context, new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(await openChunk(key, context, sealed))); // "hello"
 * ```
 */
export const sealChunk: ChunkOperation = async (chunkKey, context, plaintext) => {
  return await sealAesGcm(
    chunkKey,
    chunkNonce(context.index),
    contextBytes(SEALED_LABEL, context),
    plaintext,
  );
};

/**
 * Opens one sealed chunk in its context.
 *
 * @throws {MleError} `ERR_DECRYPTION_FAILED`, the same for a bad tag, ciphertext, index, flag,
 * upload id or length.
 */
export const openChunk: ChunkOperation = async (chunkKey, context, sealed) => {
  if (sealed.length < GCM_TAG_LENGTH) throw decryptionFailed();
  const additionalData = contextBytes(SEALED_LABEL, context);
  const opened = await openAesGcm(chunkKey, chunkNonce(context.index), additionalData, sealed);
  if (opened === null) throw decryptionFailed();
  return opened;
};

/**
 * Signs one clear chunk: the body is the 64-byte signature followed by the plaintext. The
 * signature covers the context and the plaintext's SHA-256, so a clear chunk is as bound to its
 * place as a sealed one (only its confidentiality is missing, which is what the level allows).
 */
export const signClearChunk: ChunkOperation = async (clientPrivateKey, context, plaintext) => {
  const signature = await signBytes(clientPrivateKey, await clearSignedBytes(context, plaintext));
  const body = new Uint8Array(CHUNK_SIGNATURE_LENGTH + plaintext.length);
  body.set(signature);
  body.set(plaintext, CHUNK_SIGNATURE_LENGTH);
  return body;
};

/**
 * Verifies one clear chunk and returns its plaintext (a view into `body`).
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID` when the signature does not cover this context and
 * these bytes.
 */
export const openClearChunk: ChunkOperation = async (clientPublicKey, context, body) => {
  if (body.length < CHUNK_SIGNATURE_LENGTH) throw chunkSignatureInvalid();
  const signature = body.slice(0, CHUNK_SIGNATURE_LENGTH);
  const plaintext = body.subarray(CHUNK_SIGNATURE_LENGTH);
  const signed = await clearSignedBytes(context, plaintext);
  if (!(await verifyBytes(clientPublicKey, signature, signed))) throw chunkSignatureInvalid();
  return plaintext;
};

async function clearSignedBytes(
  context: ChunkContext,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const head = contextBytes(CLEAR_LABEL, context);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", plaintext));
  const signed = new Uint8Array(head.length + digest.length);
  signed.set(head);
  signed.set(digest, head.length);
  return signed;
}

/** label ‖ 0x00 ‖ cid (u64) ‖ upload id (16 bytes) ‖ index (u64) ‖ final (u8). */
function contextBytes(label: string, context: ChunkContext): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(context.cid) || context.cid < 1) {
    throw new RangeError(`Cannot use computer id ${context.cid} in a chunk context`);
  }
  checkIndex(context.index);
  const prefix = encoder.encode(label);
  const bytes = new Uint8Array(prefix.length + 1 + 8 + 16 + 8 + 1);
  bytes.set(prefix);
  const view = new DataView(bytes.buffer);
  let offset = prefix.length + 1;
  view.setBigUint64(offset, BigInt(context.cid));
  offset += 8;
  bytes.set(uidBytes(context.uid), offset);
  offset += 16;
  view.setBigUint64(offset, BigInt(context.index));
  offset += 8;
  bytes[offset] = context.final ? 1 : 0;
  return bytes;
}

function uidBytes(uid: string): Uint8Array<ArrayBuffer> {
  if (typeof uid !== "string" || !/^[0-9a-f]{32}$/.test(uid)) {
    throw new RangeError(`Cannot use upload id "${uid}": expected 32 lowercase hex digits`);
  }
  return Uint8Array.fromHex(uid);
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`Cannot use chunk index ${index}: expected a non-negative integer`);
  }
}

function chunkSignatureInvalid(): MleError {
  return new MleError(
    "ERR_SIGNATURE_INVALID",
    "Cannot accept chunk: its signature does not cover this upload, index and content",
  );
}
