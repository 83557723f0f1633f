import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import {
  MAX_REPORT_BATCH_BYTES,
  MAX_REPORT_BATCH_COUNT,
  MAX_REPORT_MESSAGE_BYTES,
} from "./limits.ts";
import {
  decodeReportBatch,
  encodeReportBatch,
  readReportBatchAnswer,
  reportBatchSize,
} from "./report_batch.ts";

const encoder = new TextEncoder();

Deno.test("encodeReportBatch() and decodeReportBatch() carry each envelope byte for byte", () => {
  const envelopes = ['{"a":1}', '{ "b" : "é" }', "x"].map((text) => encoder.encode(text));
  const batch = encodeReportBatch(envelopes);
  assert.equal(batch.length, reportBatchSize(envelopes.map((envelope) => envelope.length)));
  assert.deepEqual(
    decodeReportBatch(batch).map((envelope) => [...envelope]),
    envelopes.map((e) => [...e]),
  );
});

Deno.test("decodeReportBatch() refuses every malformed or unbounded batch", () => {
  const good = encodeReportBatch([encoder.encode("{}"), encoder.encode("[]")]);
  const withCount = (count: number) => {
    const bytes = good.slice();
    new DataView(bytes.buffer).setUint32(4, count);
    return bytes;
  };
  const withFirstLength = (length: number) => {
    const bytes = good.slice();
    new DataView(bytes.buffer).setUint32(8, length);
    return bytes;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /framing/],
    ["other magic", Uint8Array.of(0x4d, 0x4c, 0x42, 0x32, 0, 0, 0, 1), /framing/],
    ["no envelopes", withCount(0), /expected 1 to/],
    ["too many envelopes", withCount(MAX_REPORT_BATCH_COUNT + 1), /expected 1 to/],
    ["more declared than sent", withCount(3), /envelope 2 is cut short/],
    ["fewer declared than sent", withCount(1), /bytes after the last envelope/],
    ["an empty envelope", withFirstLength(0), /envelope 0 declares 0 bytes/],
    ["an oversized envelope", withFirstLength(MAX_REPORT_MESSAGE_BYTES + 1), /declares/],
    ["a length past the end", withFirstLength(1000), /cut short/],
    ["cut inside a length", good.subarray(0, 10), /cut short/],
    ["trailing bytes", Uint8Array.of(...good, 0), /bytes after the last envelope/],
    ["too large", new Uint8Array(MAX_REPORT_BATCH_BYTES + 1), /larger than/],
  ];
  for (const [name, bytes, message] of cases) {
    assert.throws(
      () => decodeReportBatch(bytes),
      (error) =>
        error instanceof MleError && error.code === "ERR_ENVELOPE_MALFORMED" &&
        message.test(error.message),
      name,
    );
  }
});

Deno.test("encodeReportBatch() refuses what a parent would refuse", () => {
  assert.throws(() => encodeReportBatch([]), RangeError);
  assert.throws(() => encodeReportBatch([new Uint8Array(0)]), RangeError);
  assert.throws(
    () => encodeReportBatch([new Uint8Array(MAX_REPORT_MESSAGE_BYTES + 1)]),
    RangeError,
  );
  const big = new Uint8Array(MAX_REPORT_MESSAGE_BYTES);
  assert.throws(() => encodeReportBatch(Array(9).fill(big)), /larger than/);
});

Deno.test("readReportBatchAnswer() takes exactly one status and body per envelope", () => {
  const results = [{ status: 200, body: { status: "stored" } }, { status: 409, body: null }];
  assert.deepEqual(readReportBatchAnswer({ results }, 2), results);
  const bad: [unknown, number][] = [
    [null, 1],
    [{ results: {} }, 1],
    [{ results }, 3],
    [{ results: [{ status: 99, body: null }] }, 1],
    [{ results: [{ status: "200", body: null }] }, 1],
    [{ results: [{ status: 200, body: [] }] }, 1],
    [{ results: [{ status: 200, body: "stored" }] }, 1],
    [{ results: [null] }, 1],
  ];
  for (const [value, count] of bad) {
    assert.throws(
      () => readReportBatchAnswer(value, count),
      (error) => error instanceof MleError && error.code === "ERR_DOCUMENT_INVALID",
      JSON.stringify(value),
    );
  }
});
