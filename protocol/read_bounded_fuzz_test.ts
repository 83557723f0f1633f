import assert from "node:assert/strict";
import { countingStream, fc, fuzzParser, noError, piecesAndBound } from "../tests/fuzz.ts";
import { readBounded } from "./read_bounded.ts";

Deno.test("fuzz: readBounded() gives the whole body within the bound, whatever size it expected, and null past it without reading on", async () => {
  const inputs = fc.tuple(piecesAndBound, fc.nat({ max: 5000 }));
  await fuzzParser("readBounded", inputs, async ([[pieces, maxBytes], expectedBytes]) => {
    const { stream, counter } = countingStream(pieces);
    const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
    const bytes = await readBounded(stream, maxBytes, expectedBytes);
    if (total <= maxBytes) {
      assert.deepEqual(bytes, new Uint8Array(pieces.flatMap((piece) => [...piece])));
      return;
    }
    assert.equal(bytes, null);
    assert.ok(counter.cancelled, "the stream was not cancelled");
    // It stops at the first piece that passes the bound: at most maxBytes + one piece held.
    let sum = 0;
    const passing = pieces.findIndex((piece) => (sum += piece.length) > maxBytes);
    assert.equal(counter.pulled, passing + 1);
  }, noError);
});
