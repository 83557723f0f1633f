import assert from "node:assert/strict";
import { parseRetryAfter, readBodyUpTo, readExactBody, releaseBytes } from "./upload_fetch.ts";

/** A byte stream (BYOB-capable, like a request body) that yields `pieces` in turn. */
function byteStream(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (next === pieces.length) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      controller.enqueue(pieces[next++].slice());
    },
  });
}

/** A plain (not byte) stream: readers fall back to the default reader. */
function plainStream(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next === pieces.length) controller.close();
      else controller.enqueue(pieces[next++].slice());
    },
  });
}

function bytesOf(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("releaseBytes frees a whole chunk-sized buffer at once", () => {
  const chunk = new Uint8Array(128 * 1024);
  releaseBytes(chunk);
  assert.equal(chunk.length, 0);
  assert.equal(chunk.buffer.detached, true);
  releaseBytes(chunk); // already detached: nothing happens
});

Deno.test("releaseBytes leaves small buffers and missing values alone", () => {
  const small = new Uint8Array(1024).fill(7);
  releaseBytes(small);
  assert.equal(small.length, 1024);
  assert.equal(small[0], 7);
  releaseBytes(null);
  releaseBytes(undefined);
});

Deno.test("releaseBytes never detaches a buffer it sees only part of", () => {
  const pool = new Uint8Array(256 * 1024).fill(9);
  const part = pool.subarray(0, 128 * 1024);
  releaseBytes(part);
  assert.equal(pool.length, 256 * 1024, "the larger buffer is intact");
  assert.equal(part.length, 128 * 1024);
  assert.equal(pool[200 * 1024], 9);
  const tail = pool.subarray(64 * 1024);
  releaseBytes(tail);
  assert.equal(pool.buffer.detached, false);
});

Deno.test("readExactBody reads a body of exactly the declared length, however it is split", async () => {
  const body = bytesOf(300_000);
  const pieces = [body.subarray(0, 1), body.subarray(1, 70_000), body.subarray(70_000)];
  const read = await readExactBody(byteStream(pieces), body.length);
  assert.deepEqual(read, body);
  assert.deepEqual(await readExactBody(plainStream(pieces), body.length), body);
});

Deno.test("readExactBody refuses a body shorter or longer than declared", async () => {
  const body = bytesOf(4096);
  assert.equal(await readExactBody(byteStream([body]), 4097), null);
  assert.equal(await readExactBody(byteStream([body, new Uint8Array(1)]), 4096), null);
  assert.equal(await readExactBody(plainStream([body]), 4095), null);
  assert.equal(await readExactBody(null, 1), null);
  assert.deepEqual(await readExactBody(null, 0), new Uint8Array(0));
});

Deno.test("readBodyUpTo returns the body within the bound and null past it", async () => {
  const body = bytesOf(100_000);
  assert.deepEqual(
    await readBodyUpTo(plainStream([body.subarray(0, 10), body.subarray(10)]), 100_000),
    body,
  );
  assert.equal(await readBodyUpTo(plainStream([body]), 99_999), null);
  assert.deepEqual(await readBodyUpTo(null, 10), new Uint8Array(0));
});

Deno.test("readBodyUpTo stops reading as soon as the bound is passed", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 1000) controller.close();
      else controller.enqueue(new Uint8Array(1024));
    },
  });
  assert.equal(await readBodyUpTo(endless, 8 * 1024), null);
  assert.ok(pulled <= 12, `pulled ${pulled} pieces for an 8 KiB bound`);
});

Deno.test("parseRetryAfter reads seconds and dates, capped at a minute", () => {
  const now = Date.parse("2026-11-23T12:00:00Z");
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter(" 0 "), 0);
  assert.equal(parseRetryAfter("3600"), 60_000);
  assert.equal(parseRetryAfter("Mon, 23 Nov 2026 12:00:05 GMT", now), 5000);
  assert.equal(parseRetryAfter("Mon, 23 Nov 2026 11:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon"), null);
  assert.equal(parseRetryAfter("-1"), null);
});
