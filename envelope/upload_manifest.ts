/**
 * The manifest message that starts an upload: a signed and sealed message (`sealed_message.ts`) like
 * a report, its inner JWS (`typ` "mle-upload-manifest") signed by the client over the manifest
 * JSON, sealed (when encrypting) as the plaintext of a JWE to the server's key, with the client's
 * outer signature (`sig`) over the JWE's compact form. In clear, the inner JWS alone.
 *
 * The JWE's content key is the upload's **file key**: fresh for every upload and wrapped once to
 * the server's RSA key (RSA-OAEP-256). Chunks are sealed under a key derived from it
 * (`upload_chunk.ts`), so one RSA private-key operation opens the whole file, and only the client
 * and the server ever know it: a relay sees the wrapped key and the ciphertext, nothing else.
 *
 * The protected headers name the computer id, the upload id, the chunk size and the chunk count
 * in clear, so relays can buffer chunks without decrypting; the file's name, size and SHA-256 are
 * inside the encryption. Because the client signs the JWE, the wrapped file key is bound to its
 * sender and upload id: nobody else can start an upload under that id with a key they know.
 *
 * @module
 */

import { createContentKey, importAesKey, unwrapContentKey } from "./jwe.ts";
import { KEY_ID_OR_NULL, POSITIVE_INTEGER, textMatching } from "./claim_rules.ts";
import type { FlattenedJws } from "./jws.ts";
import {
  type ParsedSignedMessage,
  type SealedMessage,
  type SenderClaims,
  signedMessageCodec,
  signedMessageKind,
} from "./sealed_message.ts";

/**
 * The clear claims of a manifest message, which relays read and the server checks: its sender,
 * the server key the file key is wrapped to (null in clear), and the upload's id and layout.
 */
export interface UploadClaims extends SenderClaims {
  /** Upload id: 32 lowercase hex digits. */
  uid: string;
  /** Chunk size in bytes. */
  cs: number;
  /** Chunk count. */
  cc: number;
}

/** A manifest message as read from the wire, before any verification. */
export type ParsedUploadManifest = ParsedSignedMessage<UploadClaims>;

/** The manifest's claims and words for the sealed-message codec. */
export const UPLOAD_MANIFEST_MESSAGE = signedMessageKind<UploadClaims, "mle-upload-manifest">({
  name: "upload manifest",
  // The JWE `cty` is "mle-upload-manifest+jws".
  type: "mle-upload-manifest",
  signatureInvalid: "Cannot accept upload manifest: sender signature is not valid",
  claimNames: "computer id, upload id, key id or chunk layout",
  claims: {
    cid: POSITIVE_INTEGER,
    uid: textMatching(/^[0-9a-f]{32}$/, "32 lowercase hex digits"),
    kid: KEY_ID_OR_NULL,
    cs: POSITIVE_INTEGER,
    cc: POSITIVE_INTEGER,
  },
});

const manifests = signedMessageCodec(UPLOAD_MANIFEST_MESSAGE);

/**
 * Signs a manifest and seals it to the server key with a fresh file key.
 *
 * @returns the message and the raw file key (the client keeps it to seal the chunks).
 * @example
 * ```ts
 * import { readUploadManifestMessage, sealUploadManifest } from "./upload_manifest.ts";
 * import { encryptionKeyId, generateEncryptionKeyPair } from "./encryption_key.ts";
 * import { generateSigningKeyPair } from "./signature.ts";
 * const server = await generateEncryptionKeyPair(2048);
 * const client = await generateSigningKeyPair();
 * const kid = await encryptionKeyId(server.publicKey);
 * const claims = { cid: 7, uid: "00112233445566778899aabbccddeeff", cs: 131072, cc: 1 };
 * const { message } = await sealUploadManifest(server.publicKey, kid, client.privateKey, claims, new TextEncoder().encode("{}"));
 * console.log(readUploadManifestMessage(message).claims.uid); // "00112233445566778899aabbccddeeff"
 * ```
 */
export async function sealUploadManifest(
  serverPublicKey: CryptoKey,
  kid: string,
  clientPrivateKey: CryptoKey,
  claims: Omit<UploadClaims, "kid">,
  manifest: Uint8Array,
): Promise<{ message: SealedMessage; fileKey: Uint8Array<ArrayBuffer> }> {
  UPLOAD_MANIFEST_MESSAGE.claimsOf({ ...claims, kid }); // before a file key is made for nothing
  const { contentKey, raw } = await createContentKey(serverPublicKey, kid);
  return {
    message: await manifests.seal(contentKey, clientPrivateKey, claims, manifest),
    fileKey: raw,
  };
}

/** Signs a manifest for sending in clear (no server key: `kid` is null). */
export async function signUploadManifest(
  clientPrivateKey: CryptoKey,
  claims: Omit<UploadClaims, "kid">,
  manifest: Uint8Array,
): Promise<FlattenedJws> {
  return await manifests.sign(clientPrivateKey, { ...claims, kid: null }, manifest);
}

/**
 * Reads a manifest message's shape and claims without verifying anything yet.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` or `ERR_DECRYPTION_FAILED` (header problems).
 */
export const readUploadManifestMessage = manifests.read;

/**
 * Verifies the sender's signature over the manifest as it travels (the outer signature of an
 * encrypted one, the JWS of a clear one). Needs no private key.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID`.
 */
export const verifyUploadManifestSignature = manifests.verify;

/**
 * Opens a manifest whose outer signature was verified: unwraps the file key (the one RSA
 * private-key operation of the whole upload), decrypts, verifies the inner signature and that it
 * names exactly the envelope's claims.
 *
 * @param serverPrivateKey the private key of `parsed.claims.kid` (ignored in clear).
 * @returns the manifest's bytes and, when encrypted, the raw file key.
 * @throws {MleError} `ERR_DECRYPTION_FAILED` (the same for every decryption failure) or
 * `ERR_SIGNATURE_INVALID`.
 */
export async function openUploadManifest(
  clientPublicKey: CryptoKey,
  parsed: ParsedUploadManifest,
  serverPrivateKey: CryptoKey | null,
): Promise<{ manifest: Uint8Array<ArrayBuffer>; fileKey: Uint8Array<ArrayBuffer> | null }> {
  const raw = parsed.kind === "clear" || serverPrivateKey === null
    ? null
    : await unwrapContentKey(serverPrivateKey, parsed.message.encrypted_key);
  return await openUploadManifestWithFileKey(clientPublicKey, parsed, raw);
}

/**
 * {@linkcode openUploadManifest} with the file key already unwrapped (by a server that guards its
 * RSA operations): decrypts, verifies the inner signature and that it names the envelope's claims.
 *
 * @param fileKey the raw file key (ignored in clear); null stands for a failed unwrap.
 * @throws {MleError} `ERR_DECRYPTION_FAILED` (the same for every decryption failure) or
 * `ERR_SIGNATURE_INVALID`.
 */
export async function openUploadManifestWithFileKey(
  clientPublicKey: CryptoKey,
  parsed: ParsedUploadManifest,
  fileKey: Uint8Array<ArrayBuffer> | null,
): Promise<{ manifest: Uint8Array<ArrayBuffer>; fileKey: Uint8Array<ArrayBuffer> | null }> {
  const sealedKey = parsed.kind === "clear" ? null : fileKey;
  const key = sealedKey === null ? null : await importAesKey(sealedKey);
  return { manifest: await manifests.open(clientPublicKey, parsed, key), fileKey: sealedKey };
}
