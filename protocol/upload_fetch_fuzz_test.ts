import assert from "node:assert/strict";
import { anyText, countingStream, fc, fuzzParser, noError, piecesAndBound } from "../tests/fuzz.ts";
import { MAX_RETRY_AFTER_MS, parseRetryAfter, readExactBody } from "./upload_fetch.ts";

const NOW = Date.UTC(2024, 0, 1);

Deno.test("fuzz: parseRetryAfter() gives null or a delay from 0 to a minute, and never throws", async () => {
  const texts = fc.oneof(
    anyText,
    fc.nat().map(String),
    fc.date({ noInvalidDate: true }).map((date) => date.toUTCString()),
    fc.string({ unit: fc.constantFrom(..."0123456789 -+.eE,:GMTSunMonDec") }),
  );
  await fuzzParser("parseRetryAfter", texts, (text) => {
    const ms = parseRetryAfter(text, NOW);
    if (ms !== null) assert.ok(Number.isInteger(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS);
  }, noError);
});

const total = (pieces: Uint8Array[]) => pieces.reduce((sum, piece) => sum + piece.length, 0);
const joined = (pieces: Uint8Array[]) => new Uint8Array(pieces.flatMap((piece) => [...piece]));

/** A byte stream (the kind a request body is) of `pieces`, read with or without BYOB. */
function byteStream(all: Uint8Array[]): ReadableStream<Uint8Array> {
  const pieces = all.filter((piece) => piece.length > 0); // a byte stream has no empty pieces
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

Deno.test("fuzz: readExactBody() gives the body only when it is exactly the declared length", async () => {
  const inputs = fc.tuple(piecesAndBound, fc.boolean());
  await fuzzParser("readExactBody", inputs, async ([[pieces, length], bytes]) => {
    const stream = bytes ? byteStream(pieces) : countingStream(pieces).stream;
    const body = await readExactBody(stream, length);
    if (total(pieces) === length) assert.deepEqual(body, joined(pieces));
    else assert.equal(body, null);
  }, noError);
});
