/**
 * Test support: the upload the envelope tests make, from the client of `_test_keys.ts` to its
 * server: its id, one chunk's context, the manifest's claims, and the samples the fuzz tests
 * mutate (that chunk sealed and signed, that manifest sealed and signed), made once per test
 * module.
 *
 * @module
 */

import { clientKeyPair, serverKeyPair, serverKid } from "./_test_keys.ts";
import { type ChunkContext, deriveChunkKey, sealChunk, signClearChunk } from "./upload_chunk.ts";
import { sealUploadManifest, signUploadManifest, type UploadClaims } from "./upload_manifest.ts";

/** The upload id of the test upload. */
export const UPLOAD_ID = "00112233445566778899aabbccddeeff";

/** Another well-formed upload id, that a chunk of the test upload must not pass as. */
export const OTHER_UPLOAD_ID = "ffeeddccbbaa99887766554433221100";

/** Chunk 3 of the test upload from computer 7, not its last. */
export const CHUNK_CONTEXT: ChunkContext = { cid: 7, uid: UPLOAD_ID, index: 3, final: false };

/** The plaintext of the sample chunk. */
export const CHUNK_PLAINTEXT: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
  "one chunk of a file",
);

/** The chunk key of the test upload, derived from a random file key. */
export const chunkKey: CryptoKey = await deriveChunkKey(
  crypto.getRandomValues(new Uint8Array(32)),
  UPLOAD_ID,
);

/** The sample chunk sealed under {@linkcode chunkKey} in {@linkcode CHUNK_CONTEXT}. */
export const SEALED_CHUNK: Uint8Array<ArrayBuffer> = await sealChunk(
  chunkKey,
  CHUNK_CONTEXT,
  CHUNK_PLAINTEXT,
);

/** The sample chunk signed in clear by the client in {@linkcode CHUNK_CONTEXT}. */
export const SIGNED_CHUNK: Uint8Array<ArrayBuffer> = await signClearChunk(
  clientKeyPair.privateKey,
  CHUNK_CONTEXT,
  CHUNK_PLAINTEXT,
);

/** The manifest claims of a one-chunk test upload from computer 7. */
export const MANIFEST_CLAIMS: Omit<UploadClaims, "kid"> = {
  cid: 7,
  uid: UPLOAD_ID,
  cs: 131072,
  cc: 1,
};

/** The sample manifest's JSON bytes. */
export const MANIFEST: Uint8Array<ArrayBuffer> = new TextEncoder().encode(
  '{"v":1,"name":"a.log"}',
);

/** The sample manifest signed by the client and sealed to the server with a fresh file key. */
export const SEALED_MANIFEST = (await sealUploadManifest(
  serverKeyPair.publicKey,
  serverKid,
  clientKeyPair.privateKey,
  MANIFEST_CLAIMS,
  MANIFEST,
)).message;

/** The sample manifest signed by the client for sending in clear. */
export const SIGNED_MANIFEST = await signUploadManifest(
  clientKeyPair.privateKey,
  MANIFEST_CLAIMS,
  MANIFEST,
);
