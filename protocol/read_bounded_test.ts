import assert from "node:assert/strict";
import { countingStream } from "../tests/fuzz.ts";
import { readBounded } from "./read_bounded.ts";

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
