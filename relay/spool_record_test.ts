import assert from "node:assert/strict";
import { concatBytes } from "../envelope/concat_bytes.ts";
import { encodeSpoolRecord, readSpoolSegment, SPOOL_RECORD_OVERHEAD } from "./spool_record.ts";

const encoder = new TextEncoder();
const ids = [1, 2, 3].map((n) => `000170000000000${n}-000000-0123abcd`);

function segmentOf(...messages: string[]): Uint8Array {
  return concatBytes(
    messages.map((text, i) => encodeSpoolRecord(ids[i], i + 7, encoder.encode(text))),
  );
}

Deno.test("readSpoolSegment() finds each record's id, sender and exact message", () => {
  const bytes = segmentOf('{"a":1}', "é", "x");
  const contents = readSpoolSegment(bytes);
  assert.equal(contents.validBytes, bytes.length);
  assert.deepEqual(contents.records.map((record) => [record.id, record.sender]), [
    [ids[0], 7],
    [ids[1], 8],
    [ids[2], 9],
  ]);
  const second = contents.records[1];
  assert.deepEqual(
    bytes.subarray(second.offset, second.offset + second.length),
    encoder.encode("é"),
  );
  const unknown = readSpoolSegment(encodeSpoolRecord(ids[0], undefined, encoder.encode("{}")));
  assert.equal(unknown.records[0].sender, null);
});

Deno.test("readSpoolSegment() stops at a torn or damaged record and says where", () => {
  const whole = segmentOf("first", "second", "third");
  const firstEnd = "first".length + SPOOL_RECORD_OVERHEAD;
  const secondEnd = firstEnd + "second".length + SPOOL_RECORD_OVERHEAD;
  const cases: [string, Uint8Array, number][] = [
    ["cut inside the last checksum", whole.subarray(0, whole.length - 1), 2],
    ["cut inside the last header", whole.subarray(0, secondEnd + 10), 2],
    ["garbage after the last record", Uint8Array.of(...whole, 1, 2, 3), 3],
    ["a flipped message byte", whole.with(firstEnd + 50, whole[firstEnd + 50] ^ 1), 1],
    ["a flipped length", whole.with(firstEnd + 47, whole[firstEnd + 47] ^ 0x40), 1],
    ["zeros where a record begins", Uint8Array.of(...whole.subarray(0, firstEnd), 0, 0, 0, 0), 1],
    ["nothing at all", new Uint8Array(0), 0],
  ];
  for (const [name, bytes, kept] of cases) {
    const contents = readSpoolSegment(bytes);
    assert.equal(contents.records.length, kept, name);
    const expectedEnd = [0, firstEnd, secondEnd, whole.length][kept];
    assert.equal(contents.validBytes, expectedEnd, name);
  }
});

Deno.test("encodeSpoolRecord() refuses a malformed id", () => {
  assert.throws(() => encodeSpoolRecord("../x", 1, encoder.encode("{}")), RangeError);
});
