import assert from "node:assert/strict";
import { anyBytes, fc, fuzzParser, mleError } from "../tests/fuzz.ts";
import { clientKeyPair as client } from "./_test_keys.ts";
import {
  CHUNK_CONTEXT,
  CHUNK_PLAINTEXT,
  chunkKey,
  OTHER_UPLOAD_ID,
  SEALED_CHUNK,
  SIGNED_CHUNK,
  UPLOAD_ID,
} from "./_test_upload.ts";
import { type ChunkContext, openChunk, openClearChunk } from "./upload_chunk.ts";

/** A context as a chunk path gives it: always well formed, sometimes another chunk's. */
const contexts: fc.Arbitrary<ChunkContext> = fc.oneof(
  fc.constant(CHUNK_CONTEXT),
  fc.record({
    cid: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    uid: fc.constantFrom(UPLOAD_ID, OTHER_UPLOAD_ID),
    index: fc.integer({ min: 0, max: 2 ** 21 - 1 }),
    final: fc.boolean(),
  }),
);

/** One edit of a body: a byte flipped, bytes cut or appended, or random bytes. */
function mutatedBody(valid: Uint8Array<ArrayBuffer>): fc.Arbitrary<Uint8Array<ArrayBuffer>> {
  const at = fc.nat({ max: valid.length });
  return fc.oneof(
    fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })).map(
      ([i, bits]) => {
        const copy = valid.slice();
        copy[i] ^= bits;
        return copy;
      },
    ),
    at.map((i) => valid.slice(0, i)),
    anyBytes.map((extra) => {
      const longer = new Uint8Array(valid.length + extra.length);
      longer.set(valid);
      longer.set(extra, valid.length);
      return longer;
    }),
    anyBytes,
    fc.constant(valid),
  );
}

Deno.test("fuzz: openChunk() opens only the sealed chunk in its context, or refuses with ERR_DECRYPTION_FAILED", async () => {
  const inputs = fc.tuple(contexts, mutatedBody(SEALED_CHUNK));
  await fuzzParser("openChunk", inputs, async ([context, body]) => {
    assert.deepEqual(await openChunk(chunkKey, context, body), CHUNK_PLAINTEXT);
    assert.deepEqual(context, CHUNK_CONTEXT);
  }, mleError("ERR_DECRYPTION_FAILED"));
});

Deno.test("fuzz: openClearChunk() passes only the signed chunk in its context, or refuses with ERR_SIGNATURE_INVALID", async () => {
  const inputs = fc.tuple(contexts, mutatedBody(SIGNED_CHUNK));
  await fuzzParser("openClearChunk", inputs, async ([context, body]) => {
    assert.deepEqual(await openClearChunk(client.publicKey, context, body), CHUNK_PLAINTEXT);
    assert.deepEqual(context, CHUNK_CONTEXT);
  }, mleError("ERR_SIGNATURE_INVALID"));
});
