import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { concatBytes } from "../envelope/concat_bytes.ts";
import {
  encodeSpoolRecord,
  readSpoolSegment,
  SPOOL_RECORD_HEADER_BYTES,
  SPOOL_RECORD_OVERHEAD,
  spoolRecordSize,
  writeSpoolRecord,
} from "./spool_record.ts";

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
  // 32 bytes of UTF-8, but not 32 ASCII characters.
  assert.throws(() => spoolRecordSize("é".repeat(16), encoder.encode("{}")), RangeError);
  assert.throws(() => spoolRecordSize(`${ids[0].slice(0, 31)} `, encoder.encode("{}")), RangeError);
});

Deno.test("a record finds every single-bit change of its header, message or checksum", () => {
  const record = encodeSpoolRecord(ids[0], 7, encoder.encode('{"cid":7,"seq":1}'));
  assert.equal(readSpoolSegment(record).records.length, 1);
  for (let bit = 0; bit < record.length * 8; bit++) {
    const damaged = record.with(bit >> 3, record[bit >> 3] ^ (1 << (bit & 7)));
    const contents = readSpoolSegment(damaged);
    assert.equal(contents.records.length, 0, `bit ${bit}`);
    assert.equal(contents.validBytes, 0, `bit ${bit}`);
  }
});

Deno.test("writeSpoolRecord() lays records of one group side by side, each as encodeSpoolRecord() makes it", () => {
  const messages = ["first", "second", "é"].map((text) => encoder.encode(text));
  const group = new Uint8Array(
    messages.reduce((sum, message, i) => sum + spoolRecordSize(ids[i], message), 0),
  );
  let end = 0;
  messages.forEach((message, i) => end = writeSpoolRecord(group, end, ids[i], i + 7, message));
  assert.equal(end, group.length);
  assert.deepEqual(group, segmentOf("first", "second", "é"));
});

/** A record as relays before version 2 wrote it: "MLS1", and 8 bytes of SHA-256. */
function versionOneRecord(id: string, sender: number, message: Uint8Array): Uint8Array {
  const record = new Uint8Array(SPOOL_RECORD_HEADER_BYTES + message.length + 8);
  const view = new DataView(record.buffer);
  record.set(encoder.encode("MLS1"), 0);
  record.set(encoder.encode(id), 4);
  view.setBigUint64(36, BigInt(sender));
  view.setUint32(44, message.length);
  record.set(message, SPOOL_RECORD_HEADER_BYTES);
  const end = SPOOL_RECORD_HEADER_BYTES + message.length;
  record.set(createHash("sha256").update(record.subarray(0, end)).digest().subarray(0, 8), end);
  return record;
}

Deno.test("readSpoolSegment() still reads version 1 records, so a spool an earlier relay left is delivered", () => {
  const old = versionOneRecord(ids[0], 7, encoder.encode('{"old":1}'));
  const bytes = concatBytes([old, encodeSpoolRecord(ids[1], 8, encoder.encode('{"new":2}'))]);
  const contents = readSpoolSegment(bytes);
  assert.equal(contents.validBytes, bytes.length);
  assert.deepEqual(
    contents.records.map((record) => [
      record.id,
      record.sender,
      new TextDecoder().decode(bytes.subarray(record.offset, record.offset + record.length)),
    ]),
    [[ids[0], 7, '{"old":1}'], [ids[1], 8, '{"new":2}']],
  );
  // A damaged version 1 record stops the reading there, as a version 2 one does.
  const damaged = old.with(SPOOL_RECORD_HEADER_BYTES + 2, old[SPOOL_RECORD_HEADER_BYTES + 2] ^ 1);
  assert.equal(readSpoolSegment(damaged).records.length, 0);
  assert.equal(readSpoolSegment(old.subarray(0, old.length - 1)).validBytes, 0);
});
