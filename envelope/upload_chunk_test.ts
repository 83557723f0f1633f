import { GCM_TAG_LENGTH } from "./aes_gcm.ts";
import assert from "node:assert/strict";
import { CHUNK_CONTEXT as context, OTHER_UPLOAD_ID, UPLOAD_ID } from "./_test_upload.ts";
import { MleError } from "./errors.ts";
import { generateSigningKeyPair } from "./signature.ts";
import {
  CHUNK_SIGNATURE_LENGTH,
  chunkNonce,
  deriveChunkKey,
  openChunk,
  openClearChunk,
  sealChunk,
  signClearChunk,
} from "./upload_chunk.ts";

const plaintext = new TextEncoder().encode("chunk three of the file");

async function keyFor(uid = UPLOAD_ID, fileKey = new Uint8Array(32).fill(9)) {
  return await deriveChunkKey(fileKey, uid);
}

function flip(bytes: Uint8Array<ArrayBuffer>, at: number): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(bytes);
  copy[at] ^= 1;
  return copy;
}

async function assertOpaque(promise: Promise<unknown>) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof MleError);
    assert.equal(error.code, "ERR_DECRYPTION_FAILED");
    assert.equal(error.message, "Cannot decrypt envelope");
    return true;
  });
}

Deno.test("sealChunk() and openChunk() round-trip, adding only the 16-byte tag", async () => {
  const key = await keyFor();
  const sealed = await sealChunk(key, context, plaintext);
  assert.equal(sealed.length, plaintext.length + GCM_TAG_LENGTH);
  assert.deepEqual(await openChunk(key, context, sealed), plaintext);
});

Deno.test("sealChunk() is deterministic for one key and index, so a resend is byte-identical", async () => {
  const key = await keyFor();
  assert.deepEqual(
    await sealChunk(key, context, plaintext),
    await sealChunk(key, context, plaintext),
  );
});

Deno.test("openChunk() refuses every tampered, moved or cut chunk with the same opaque error", async () => {
  const key = await keyFor();
  const sealed = await sealChunk(key, context, plaintext);
  const otherUploadKey = await keyFor(OTHER_UPLOAD_ID);
  const otherFileKey = await keyFor(UPLOAD_ID, new Uint8Array(32));
  const cases: Array<[string, () => Promise<unknown>]> = [
    ["a flipped ciphertext byte", () => openChunk(key, context, flip(sealed, 0))],
    ["a flipped tag byte", () => openChunk(key, context, flip(sealed, sealed.length - 1))],
    ["reordered: another index", () => openChunk(key, { ...context, index: 4 }, sealed)],
    [
      "truncation: presented as the final chunk",
      () => openChunk(key, { ...context, final: true }, sealed),
    ],
    ["another upload id", () => openChunk(key, { ...context, uid: OTHER_UPLOAD_ID }, sealed)],
    ["another computer id", () => openChunk(key, { ...context, cid: 8 }, sealed)],
    ["another upload's key", () => openChunk(otherUploadKey, context, sealed)],
    ["another file key", () => openChunk(otherFileKey, context, sealed)],
    ["a cut body", () => openChunk(key, context, sealed.slice(0, sealed.length - 1))],
    ["a body shorter than a tag", () => openChunk(key, context, sealed.slice(0, 15))],
    ["an empty body", () => openChunk(key, context, new Uint8Array(0))],
  ];
  for (const [label, attempt] of cases) {
    await assertOpaque(attempt()).catch((error) => {
      throw new Error(`${label}: ${error}`);
    });
  }
});

Deno.test("chunkNonce() gives each index its own nonce, the index big-endian after four zero bytes", () => {
  assert.deepEqual([...chunkNonce(0)], new Array(12).fill(0));
  assert.deepEqual([...chunkNonce(258)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(chunkNonce(i).toHex());
  assert.equal(seen.size, 1000);
  assert.throws(() => chunkNonce(-1), RangeError);
});

Deno.test("deriveChunkKey() refuses a file key that is not 32 bytes and a malformed upload id", async () => {
  await assert.rejects(deriveChunkKey(new Uint8Array(16), UPLOAD_ID), RangeError);
  await assert.rejects(deriveChunkKey(new Uint8Array(32), "not-an-id"), RangeError);
});

Deno.test("signClearChunk() and openClearChunk() round-trip; any change is refused", async () => {
  const pair = await generateSigningKeyPair();
  const other = await generateSigningKeyPair();
  const body = await signClearChunk(pair.privateKey, context, plaintext);
  assert.equal(body.length, plaintext.length + CHUNK_SIGNATURE_LENGTH);
  assert.deepEqual(await openClearChunk(pair.publicKey, context, body), plaintext);
  const cases: Array<[string, () => Promise<unknown>]> = [
    [
      "a flipped data byte",
      () => openClearChunk(pair.publicKey, context, flip(body, body.length - 1)),
    ],
    ["a flipped signature byte", () => openClearChunk(pair.publicKey, context, flip(body, 0))],
    ["another index", () => openClearChunk(pair.publicKey, { ...context, index: 2 }, body)],
    ["presented as final", () => openClearChunk(pair.publicKey, { ...context, final: true }, body)],
    [
      "another upload",
      () => openClearChunk(pair.publicKey, { ...context, uid: OTHER_UPLOAD_ID }, body),
    ],
    ["another signer", () => openClearChunk(other.publicKey, context, body)],
    ["a cut body", () => openClearChunk(pair.publicKey, context, body.slice(0, 63))],
  ];
  for (const [label, attempt] of cases) {
    await assert.rejects(attempt(), (error: unknown) => {
      assert.ok(error instanceof MleError, label);
      assert.equal(error.code, "ERR_SIGNATURE_INVALID", label);
      return true;
    });
  }
});
