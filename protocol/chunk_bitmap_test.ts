import assert from "node:assert/strict";
import { ChunkBitmap } from "./chunk_bitmap.ts";

Deno.test("ChunkBitmap tracks held chunks, survives its bytes, and lists missing ranges", () => {
  const bitmap = new ChunkBitmap(20);
  for (const index of [0, 1, 2, 5, 19]) bitmap.set(index);
  assert.equal(bitmap.set(5), false);
  assert.equal(bitmap.held, 5);
  assert.deepEqual(bitmap.missingRanges(10).ranges, [[3, 5], [6, 19]]);
  assert.deepEqual(bitmap.missingRanges(1), { ranges: [[3, 5]], truncated: true });
  const copy = new ChunkBitmap(20, bitmap.toBytes());
  assert.equal(copy.held, 5);
  assert.ok(copy.has(19) && !copy.has(18));
  for (let i = 0; i < 20; i++) copy.set(i);
  assert.ok(copy.complete);
  assert.deepEqual(copy.missingRanges(10).ranges, []);
  assert.throws(() => new ChunkBitmap(0), RangeError);
  assert.throws(() => new ChunkBitmap(20, new Uint8Array(2)), RangeError);
  const big = new ChunkBitmap(100_000);
  for (let i = 0; i < 99_000; i++) big.set(i);
  assert.deepEqual(big.missingRanges(5).ranges, [[99_000, 100_000]]);
});
