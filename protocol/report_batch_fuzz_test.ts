import assert from "node:assert/strict";
import { anyBytes, anyJson, fc, fuzzParser, mleError } from "../tests/fuzz.ts";
import { decodeReportBatch, encodeReportBatch, readReportBatchAnswer } from "./report_batch.ts";

/** A valid batch with one byte changed, inserted or cut, so the fuzzer reaches past the magic. */
const mutatedBatches = fc.tuple(
  fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 6 }),
  fc.nat(),
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom("replace", "insert", "cut"),
).map(([envelopes, at, byte, edit]) => {
  const batch = encodeReportBatch(envelopes);
  const i = at % batch.length;
  if (edit === "replace") return batch.with(i, byte);
  if (edit === "insert") return Uint8Array.of(...batch.subarray(0, i), byte, ...batch.subarray(i));
  return batch.subarray(0, i);
});

Deno.test("fuzz: decodeReportBatch() reads any bytes exactly or refuses them with the typed error", async () => {
  await fuzzParser(
    "decodeReportBatch",
    fc.oneof(anyBytes, mutatedBatches),
    (bytes) => {
      const envelopes = decodeReportBatch(bytes);
      // Whatever it accepts frames back to the very same bytes.
      assert.deepEqual([...encodeReportBatch(envelopes)], [...bytes]);
    },
    mleError("ERR_ENVELOPE_MALFORMED"),
  );
});

Deno.test("fuzz: readReportBatchAnswer() reads any answer or refuses it with the typed error", async () => {
  const results = fc.array(
    fc.record({ status: fc.oneof(fc.integer(), fc.constant(200)), body: anyJson }),
    { maxLength: 4 },
  ).map((results) => ({ results }));
  await fuzzParser(
    "readReportBatchAnswer",
    fc.tuple(fc.oneof(anyJson, results), fc.integer({ min: 0, max: 4 })),
    ([value, count]) => {
      const read = readReportBatchAnswer(value, count);
      assert.equal(read.length, count);
    },
    mleError("ERR_DOCUMENT_INVALID"),
  );
});
