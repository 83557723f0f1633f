import assert from "node:assert/strict";
import { countingStream, fuzzParser, noError, piecesAndBound } from "../tests/fuzz.ts";
import { readBounded } from "./read_bounded.ts";

Deno.test("fuzz: readBounded() gives the whole body within the bound, and null past it without reading on", async () => {
  await fuzzParser("readBounded", piecesAndBound, async ([pieces, maxBytes]) => {
    const { stream, counter } = countingStream(pieces);
    const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
    const bytes = await readBounded(stream, maxBytes);
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
