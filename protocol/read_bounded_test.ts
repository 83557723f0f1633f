import assert from "node:assert/strict";
import { countingStream } from "../tests/fuzz.ts";
import { INITIAL_READ_BYTES, initialReadBytes, readBounded } from "./read_bounded.ts";

Deno.test("readBounded returns the body within the bound and null past it", async () => {
  const body = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31 + 1) & 0xff);
  assert.deepEqual(
    await readBounded(countingStream([body.subarray(0, 10), body.subarray(10)]).stream, 100_000),
    body,
  );
  assert.equal(await readBounded(countingStream([body]).stream, 99_999), null);
  assert.deepEqual(await readBounded(null, 10), new Uint8Array(0));
});

Deno.test("readBounded stops reading as soon as the bound is passed", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 1000) controller.close();
      else controller.enqueue(new Uint8Array(1024));
    },
  });
  assert.equal(await readBounded(endless, 8 * 1024), null);
  assert.ok(pulled <= 12, `pulled ${pulled} pieces for an 8 KiB bound`);
});

Deno.test("initialReadBytes takes a small declared length as the buffer's size, and nothing else", () => {
  assert.equal(initialReadBytes("3041", 65_536), 3041);
  assert.equal(initialReadBytes(" 0 ", 65_536), 0);
  for (const header of [null, undefined, "", "-1", "3e3", "0x10", "1.5", "9999999999", "12 34"]) {
    assert.equal(initialReadBytes(header, 65_536), INITIAL_READ_BYTES, String(header));
  }
  // Over the bound, or larger than the usual start: no more is set aside than without a header.
  assert.equal(initialReadBytes("70000", 65_536), INITIAL_READ_BYTES);
  assert.equal(initialReadBytes("60000", 65_536), INITIAL_READ_BYTES);
});

Deno.test("readBounded with a buffer sized by a declared length: exact, and still bounded when the length lies", async () => {
  const body = Uint8Array.from({ length: 3041 }, (_, i) => i & 0xff);
  const exact = await readBounded(countingStream([body]).stream, 65_536, body.length);
  assert.deepEqual(exact, body);
  assert.equal(exact!.buffer.byteLength, body.length, "the buffer is the body, no larger");
  // Declared shorter than sent (a stream without framing): it grows, within the bound.
  assert.deepEqual(await readBounded(countingStream([body]).stream, 65_536, 0), body);
  assert.equal(await readBounded(countingStream([body, body]).stream, 5000, 10), null);
  // Declared longer than sent: what came.
  assert.deepEqual(await readBounded(countingStream([body]).stream, 65_536, 4000), body);
});
