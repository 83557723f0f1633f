import assert from "node:assert/strict";
import { releaseBytes } from "./release_bytes.ts";

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
