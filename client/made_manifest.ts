/**
 * Makes an upload's manifest: a fresh upload id and, encrypting, a fresh file key; the manifest
 * (name, size, SHA-256, chunking) signed, and sealed to the server's key when encrypting
 * (`envelope/upload_manifest.ts`). The caller saves it before any chunk is sealed with the key.
 *
 * @module
 */

import { sealUploadManifest, signUploadManifest } from "../envelope/upload_manifest.ts";
import { chunkCountOf, newUploadId, type UploadManifest } from "../protocol/upload.ts";
import { encodeFileKey, type MadeManifest, type QueuedUpload } from "./upload_queue.ts";

/** Who makes the manifest: the computer, its signing key and (encrypting) the server's key. */
export interface ManifestMaker {
  computerId: number;
  signingKey: CryptoKey;
  serverKey: { kid: string; publicKey: CryptoKey } | null;
}

/** Makes a new manifest for `upload` in chunks of `chunkSize` (`encrypt` needs a server key). */
export async function makeManifest(
  upload: QueuedUpload,
  maker: ManifestMaker,
  encrypt: boolean,
  chunkSize: number,
): Promise<MadeManifest> {
  const uid = newUploadId();
  const chunkCount = chunkCountOf(upload.size, chunkSize);
  const body: UploadManifest = {
    v: 1,
    uid,
    cid: maker.computerId,
    name: upload.name,
    size: upload.size,
    sha256: upload.sha256,
    chunkSize,
    chunkCount,
    createdAt: upload.queuedAt,
  };
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const claims = { cid: maker.computerId, uid, cs: chunkSize, cc: chunkCount };
  const made = { uid, cid: maker.computerId, chunkSize, chunkCount };
  if (!encrypt) {
    const message = await signUploadManifest(maker.signingKey, claims, bytes);
    return { ...made, kid: null, message: JSON.stringify(message), fileKey: null };
  }
  const server = maker.serverKey!;
  const { message, fileKey } = await sealUploadManifest(
    server.publicKey,
    server.kid,
    maker.signingKey,
    claims,
    bytes,
  );
  const encoded = encodeFileKey(fileKey);
  fileKey.fill(0);
  return { ...made, kid: server.kid, message: JSON.stringify(message), fileKey: encoded };
}
