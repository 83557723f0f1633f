import assert from "node:assert/strict";
import { chunkOverhead } from "../protocol/upload.ts";
import { readSegmentRecords, RECORD_HEADER, recordHeader } from "./upload_segment_record.ts";

const shape = { chunkSize: 16, chunkCount: 3, encrypted: true };
const full = 16 + chunkOverhead(true);

function record(index: number, length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(RECORD_HEADER + length);
  bytes.set(recordHeader(index, length));
  bytes.fill(index + 1, RECORD_HEADER);
  return bytes;
}

/** The records one after the other, as a segment file holds them. */
async function segment(...records: Uint8Array<ArrayBuffer>[]): Promise<Uint8Array> {
  return new Uint8Array(await new Blob(records).arrayBuffer());
}

Deno.test("readSegmentRecords() finds each record's body, a shorter final chunk included", async () => {
  const bytes = await segment(record(0, full), record(2, chunkOverhead(true) + 3));
  assert.deepEqual(readSegmentRecords(bytes, shape), [
    { index: 0, offset: RECORD_HEADER, length: full },
    { index: 2, offset: 2 * RECORD_HEADER + full, length: chunkOverhead(true) + 3 },
  ]);
});

Deno.test("readSegmentRecords() stops at a torn record or one that does not fit the upload", async () => {
  const torn = (await segment(record(0, full), record(1, full))).slice(0, -1);
  assert.deepEqual(readSegmentRecords(torn, shape).map((r) => r.index), [0]);
  const wrongLength = await segment(record(0, full), record(1, full - 1), record(2, full));
  assert.deepEqual(readSegmentRecords(wrongLength, shape).map((r) => r.index), [0]);
  const pastCount = await segment(record(3, full), record(0, full));
  assert.deepEqual(readSegmentRecords(pastCount, shape), []);
});
