import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signUploadManifest } from "../envelope/upload_manifest.ts";
import { errorBody } from "../protocol/http_error.ts";
import { eventually } from "../tests/eventually.ts";
import { createRelayUploadApp } from "./upload_app.ts";
import {
  FULL_CHUNK_BYTES,
  jsonAnswer,
  UPLOAD_CLAIMS,
  UPLOAD_ID,
  UploadParentStub,
} from "./_test_upload_parent.ts";
import { UploadBuffer } from "./upload_buffer.ts";
import { UploadForwarder } from "./upload_forwarder.ts";

/** A buffer record's header, counted against the buffer's maximum. */
const RECORD_HEADER = 8;

/** The relay's upload routes over a real buffer, their manifest posted through them. */
async function setUp(
  answerChunk: (index: number) => Response | Promise<Response>,
  options: { memoryBudgetBytes?: number; roomForChunks?: number } = {},
) {
  const dir = await Deno.makeTempDir();
  const parent = new UploadParentStub();
  parent.answerChunk = answerChunk;
  const pair = await generateSigningKeyPair();
  const manifest = JSON.stringify(
    await signUploadManifest(pair.privateKey, UPLOAD_CLAIMS, new TextEncoder().encode("{}")),
  );
  const room = options.roomForChunks ?? 100;
  const buffer = await UploadBuffer.open(dir, {
    maxBytes: manifest.length + room * (FULL_CHUNK_BYTES + RECORD_HEADER),
  });
  const forwarder = new UploadForwarder({ buffer, parentUrl: parent.url });
  forwarder.start();
  const app = createRelayUploadApp({
    buffer,
    forwarder,
    parentUrl: parent.url,
    acceptsEncrypted: true,
    throttleKBPS: 0,
    memoryBudgetBytes: options.memoryBudgetBytes,
  });
  const posted = await app.request("/", { method: "POST", body: manifest });
  assert.equal(posted.status, 200, await posted.clone().text());
  return {
    app,
    buffer,
    parent,
    upload: buffer.get(4, UPLOAD_ID)!,
    put: async (index: number, fill = index + 1) => {
      const response = await app.request(`/4/${UPLOAD_ID}/${index}`, {
        method: "PUT",
        body: new Uint8Array(FULL_CHUNK_BYTES).fill(fill),
        headers: { "content-length": String(FULL_CHUNK_BYTES) },
      });
      return { status: response.status, body: await response.json() };
    },
    async [Symbol.asyncDispose]() {
      await forwarder.stop(1000);
      await parent.close();
      buffer.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("the relay answers a chunk its parent took at once with 200 and the parent's answer, and stores nothing", async () => {
  const answer = { result: "stored", uploadId: UPLOAD_ID, computerId: 4, state: "receiving" };
  await using t = await setUp(() => jsonAnswer(200, { ...answer, received: 1, chunkCount: 3 }));
  const put = await t.put(0);
  assert.equal(put.status, 200);
  assert.deepEqual(put.body, { ...answer, received: 1, chunkCount: 3 });
  assert.deepEqual(t.parent.chunks.map((chunk) => chunk.index), [0]);
  assert.equal(t.buffer.waiting, 0);
  assert.equal(t.upload.chunks.size, 0);
});

Deno.test("the relay stores a chunk its parent did not take, answers 202, and forwards it later", async () => {
  let busy = 1;
  await using t = await setUp(() =>
    busy-- > 0
      ? jsonAnswer(503, errorBody("ERR_RETRY_LATER", "busy"))
      : jsonAnswer(200, { result: "stored", uploadId: UPLOAD_ID })
  );
  const put = await t.put(0);
  assert.equal(put.status, 202);
  assert.deepEqual(put.body, { result: "buffered", uploadId: UPLOAD_ID });
  assert.equal(t.buffer.waiting, 1);
  await eventually(
    () => t.buffer.waiting === 0 ? true : undefined,
    "the buffered chunk forwarded",
    10_000,
  );
  assert.deepEqual(t.parent.chunks.map((chunk) => chunk.index), [0, 0]);
});

Deno.test("the relay's memory budget and buffer room cover a chunk while the parent is taking it", async () => {
  const gates: Array<() => void> = [];
  const held = () =>
    new Promise<Response>((resolve) =>
      gates.push(() => resolve(jsonAnswer(200, { result: "stored", uploadId: UPLOAD_ID })))
    );
  {
    // Memory: one chunk at a time.
    await using t = await setUp(held, { memoryBudgetBytes: FULL_CHUNK_BYTES });
    const first = t.put(0);
    await eventually(() => gates.length > 0 ? true : undefined, "the parent holding a chunk");
    const second = await t.put(1);
    assert.equal(second.status, 503);
    assert.equal(second.body.error.code, "ERR_RETRY_LATER");
    assert.match(second.body.error.message, /busy/);
    gates.shift()!();
    assert.equal((await first).status, 200);
  }
  {
    // Buffer room: one chunk, reserved until the parent took it.
    await using t = await setUp(held, { roomForChunks: 1 });
    const first = t.put(0);
    await eventually(() => gates.length > 0 ? true : undefined, "the parent holding a chunk");
    const second = await t.put(1);
    assert.equal(second.status, 503);
    assert.match(second.body.error.message, /buffer is full/);
    gates.shift()!();
    assert.equal((await first).status, 200);
    const third = t.put(1);
    await eventually(() => gates.length > 0 ? true : undefined, "the parent holding a chunk");
    gates.shift()!();
    assert.equal((await third).status, 200, "the room was not given back");
  }
});

Deno.test("the relay stores a chunk in the room it reserved when its parent cannot be reached", async () => {
  await using t = await setUp(() => jsonAnswer(200, {}), { roomForChunks: 1 });
  await t.parent.close();
  const put = await t.put(0);
  assert.equal(put.status, 202);
  assert.equal(t.buffer.waiting, 1);
  assert.ok(t.buffer.bytes <= t.buffer.maxBytes);
  const next = await t.put(1);
  assert.equal(next.status, 503, "a second chunk fit in a buffer with room for one");
  assert.match(next.body.error.message, /buffer is full/);
});
