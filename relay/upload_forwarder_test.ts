import assert from "node:assert/strict";
import { errorBody } from "../protocol/http_error.ts";
import { eventually } from "../tests/eventually.ts";
import {
  FULL_CHUNK_BYTES,
  jsonAnswer,
  refuseFirstChunks,
  storedChunk,
  UPLOAD_CLAIMS,
  UPLOAD_ID,
  UploadParentStub,
} from "./_test_upload_parent.ts";
import { UploadBuffer } from "./upload_buffer.ts";
import { UploadForwarder } from "./upload_forwarder.ts";

/** A started forwarder to a stub parent, with the upload's manifest delivered. */
async function setUp(options: { deliver?: boolean; start?: boolean } = {}) {
  const dir = await Deno.makeTempDir();
  const parent = new UploadParentStub();
  const buffer = await UploadBuffer.open(dir, { maxBytes: 1 << 20 });
  const { upload } = await buffer.putManifest(new TextEncoder().encode("{}"), UPLOAD_CLAIMS);
  const forwarder = new UploadForwarder({
    buffer,
    parentUrl: parent.url,
    minBackoffMs: 50,
    maxBackoffMs: 100,
    cutThroughTimeoutMs: 500,
  });
  if (options.start !== false) forwarder.start();
  if (options.deliver !== false) {
    assert.equal((await forwarder.deliverManifest(upload!)).kind, "delivered");
  }
  return {
    parent,
    buffer,
    upload: upload!,
    forwarder,
    async [Symbol.asyncDispose]() {
      await forwarder.stop(1000);
      await parent.close();
      buffer.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** What {@linkcode setUp} gives a test. */
type ForwarderSetup = Awaited<ReturnType<typeof setUp>>;

/**
 * Expects forwardNow() not to take chunk `index`, then does what the app does with a chunk not
 * taken: puts it in the buffer and wakes the pump.
 */
async function leaveToPump(
  t: ForwarderSetup,
  index: number,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<void> {
  assert.equal((await t.forwarder.forwardNow(t.upload, index, bytes)).kind, "not-taken");
  t.buffer.putChunk(t.upload, index, bytes);
  t.forwarder.wake();
}

/** Waits until the buffer holds no chunk: the pump delivered or deleted them all. */
async function bufferEmptied(t: ForwarderSetup, what: string): Promise<void> {
  await eventually(() => t.buffer.waiting === 0 ? true : undefined, what);
}

function chunk(fill: number, length = FULL_CHUNK_BYTES): Uint8Array<ArrayBuffer> {
  return new Uint8Array(length).fill(fill);
}

async function segmentsIn(buffer: UploadBuffer): Promise<string[]> {
  const folder = `${buffer.dir}/4-${UPLOAD_ID}`;
  return (await Array.fromAsync(Deno.readDir(folder)))
    .map((entry) => entry.name)
    .filter((name) => name.endsWith(".segment"));
}

Deno.test("forwardNow() passes a chunk straight to a parent that answers, and the buffer writes nothing", async () => {
  await using t = await setUp();
  const bytes = chunk(7);
  const forwarding = await t.forwarder.forwardNow(t.upload, 0, bytes);
  assert.deepEqual(forwarding, { kind: "taken", body: storedChunk(1) });
  assert.equal(t.parent.chunks.length, 1);
  assert.equal(t.parent.chunks[0].index, 0);
  assert.deepEqual(t.parent.chunks[0].body, chunk(7), "the bytes reached the parent as received");
  assert.deepEqual(bytes, chunk(7), "the caller's bytes are left to the caller");
  assert.equal(t.forwarder.forwarded, 1);
  assert.equal(t.buffer.waiting, 0);
  assert.deepEqual(await segmentsIn(t.buffer), []);
});

Deno.test("forwardNow() marks the upload complete when the parent says the file is stored", async () => {
  await using t = await setUp();
  t.parent.answerChunk = () => jsonAnswer(200, storedChunk(3, "complete"));
  assert.equal((await t.forwarder.forwardNow(t.upload, 2, chunk(1, 100))).kind, "taken");
  assert.equal(t.upload.complete, true);
  assert.equal(
    JSON.parse(await Deno.readTextFile(`${t.buffer.dir}/4-${UPLOAD_ID}/state.json`)).complete,
    true,
  );
  assert.equal((await t.forwarder.forwardNow(t.upload, 0, chunk(1))).kind, "not-taken");
  assert.equal(t.parent.chunks.length, 1, "a chunk of a complete upload was sent");
});

Deno.test("forwardNow() sends nothing before the manifest is delivered, before start, or for a chunk the buffer holds", async () => {
  {
    await using t = await setUp({ deliver: false });
    assert.equal((await t.forwarder.forwardNow(t.upload, 0, chunk(1))).kind, "not-taken");
    assert.equal(t.parent.chunks.length, 0);
  }
  {
    await using t = await setUp({ start: false });
    assert.equal((await t.forwarder.forwardNow(t.upload, 0, chunk(1))).kind, "not-taken");
    assert.equal(t.parent.chunks.length, 0);
  }
  {
    await using t = await setUp();
    t.buffer.putChunk(t.upload, 1, chunk(2));
    assert.equal((await t.forwarder.forwardNow(t.upload, 1, chunk(2))).kind, "not-taken");
    assert.equal(t.parent.chunks.length, 0);
  }
});

Deno.test("forwardNow() leaves a chunk to the buffer while the parent is busy, backs off, and the pump delivers it", async () => {
  await using t = await setUp();
  t.parent.answerChunk = refuseFirstChunks(1, 503, "ERR_RETRY_LATER", "busy");
  await leaveToPump(t, 0, chunk(1));
  assert.equal((await t.forwarder.forwardNow(t.upload, 1, chunk(2))).kind, "not-taken");
  assert.equal(t.parent.chunks.length, 1, "a chunk was sent while backing off");
  t.buffer.putChunk(t.upload, 1, chunk(2));
  await bufferEmptied(t, "the pump's delivery");
  assert.deepEqual(t.parent.chunks.slice(1).map((c) => c.index).sort(), [0, 1]);
  assert.deepEqual(await segmentsIn(t.buffer), []);
  // The parent answered again: chunks go straight on once more.
  assert.equal((await t.forwarder.forwardNow(t.upload, 2, chunk(3, 100))).kind, "taken");
  assert.equal(t.forwarder.forwarded, 3);
});

Deno.test("forwardNow() leaves a chunk to the buffer when the parent cannot be reached", async () => {
  await using t = await setUp();
  await t.parent.close();
  assert.equal((await t.forwarder.forwardNow(t.upload, 0, chunk(1))).kind, "not-taken");
  assert.equal((await t.forwarder.forwardNow(t.upload, 1, chunk(1))).kind, "not-taken");
  assert.equal(t.forwarder.forwarded, 0);
});

Deno.test("forwardNow() gives a chunk to the buffer when the parent takes it but does not answer in time", async () => {
  await using t = await setUp();
  let release = () => {};
  const hung = new Promise<void>((resolve) => release = resolve);
  t.parent.answerChunk = async (index) => {
    await hung;
    return jsonAnswer(200, storedChunk(index + 1));
  };
  const started = performance.now();
  const forwarding = await t.forwarder.forwardNow(t.upload, 0, chunk(1));
  const waited = performance.now() - started;
  release();
  assert.equal(forwarding.kind, "not-taken");
  assert.ok(waited >= 400 && waited < 5000, `waited ${waited.toFixed(0)} ms for a 500 ms deadline`);
  // The parent that did not answer is backed off from: the next chunk is not sent at all.
  assert.equal((await t.forwarder.forwardNow(t.upload, 1, chunk(2))).kind, "not-taken");
  assert.equal(t.parent.chunks.length, 1);
});

Deno.test("forwardNow() leaves refused chunks to the pump, which deletes a bad chunk and records a refused upload", async () => {
  await using t = await setUp();
  t.parent.answerChunk = () => jsonAnswer(400, errorBody("ERR_DECRYPTION_FAILED", "bad"));
  await leaveToPump(t, 0, chunk(1));
  await bufferEmptied(t, "the bad chunk deleted");
  assert.equal(t.parent.chunks.length, 2, "the pump sent the buffered chunk");
  assert.equal(t.upload.refused, null);

  t.parent.answerChunk = () => jsonAnswer(403, errorBody("ERR_COMPUTER_REVOKED", "revoked"));
  assert.equal((await t.forwarder.forwardNow(t.upload, 1, chunk(2))).kind, "not-taken");
  assert.equal(t.upload.refused, null, "the pump records refusals, from the buffer");
  t.buffer.putChunk(t.upload, 1, chunk(2));
  t.forwarder.wake();
  await eventually(() => t.upload.refused ?? undefined, "the refusal recorded");
  assert.deepEqual(t.upload.refused, {
    status: 403,
    code: "ERR_COMPUTER_REVOKED",
    message: "revoked",
  });
  assert.equal(t.buffer.waiting, 0);
});

Deno.test("forwardNow() leaves a chunk of an upload the parent lost to the pump, which posts the manifest again", async () => {
  await using t = await setUp();
  // The parent lost the upload: the cut-through and the pump's first attempt hear so.
  t.parent.answerChunk = refuseFirstChunks(2, 404, "ERR_UNKNOWN_UPLOAD", "lost");
  await leaveToPump(t, 0, chunk(1));
  await bufferEmptied(t, "the chunk delivered");
  assert.equal(t.parent.manifests, 2, "the manifest was not posted again");
  assert.equal(t.parent.chunks.length, 3);
  assert.equal(t.upload.manifestDelivered, true);
});
