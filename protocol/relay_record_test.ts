import assert from "node:assert/strict";
import {
  encodeRelayRecord,
  isRelayRecordDigest,
  readRelayRecord,
  RELAY_RECORD_MAX_BYTES,
  RELAY_RECORD_MAX_KIDS,
  relayRecordDigest,
} from "./relay_record.ts";
import { API } from "./paths.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

const encoder = new TextEncoder();

Deno.test("encodeRelayRecord() binds the body to its path: the path ends with the body's SHA-256", async () => {
  const { path, body } = await encodeRelayRecord({
    name: "relay-a:52311",
    url: "http://relay-a:52311",
    kids: [KID_B, KID_A, KID_B],
  });
  const digest = await relayRecordDigest(body);
  assert.equal(path, `${API.relayRecord}/${digest}`);
  assert.ok(isRelayRecordDigest(digest));
  assert.deepEqual(readRelayRecord(body), {
    name: "relay-a:52311",
    url: "http://relay-a:52311",
    kids: [KID_A, KID_B],
  });
});

Deno.test("encodeRelayRecord() refuses a claim out of bounds", async () => {
  await assert.rejects(
    encodeRelayRecord({ name: "", url: "http://r:1", kids: [] }),
    RangeError,
  );
  await assert.rejects(
    encodeRelayRecord({ name: "r", url: "http://r:1", kids: ["not a kid"] }),
    RangeError,
  );
});

Deno.test("readRelayRecord() refuses every malformed or oversized body", () => {
  const kids = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(40, "0"));
  const cases: [string, unknown][] = [
    ["not JSON", "{"],
    ["an array", []],
    ["null", null],
    ["no name", { url: "http://r:1", kids: [] }],
    ["empty name", { name: "", url: "http://r:1", kids: [] }],
    ["a name with a newline", { name: "a\nb", url: "http://r:1", kids: [] }],
    ["an overlong name", { name: "n".repeat(201), url: "http://r:1", kids: [] }],
    ["a URL that is not http(s)", { name: "r", url: "ftp://r:1", kids: [] }],
    ["a URL with a space", { name: "r", url: "http://r 1", kids: [] }],
    ["kids not a list", { name: "r", url: "http://r:1", kids: KID_A }],
    ["an upper-case kid", { name: "r", url: "http://r:1", kids: [KID_A.toUpperCase()] }],
    ["a short kid", { name: "r", url: "http://r:1", kids: ["ab"] }],
    ["a kid twice", { name: "r", url: "http://r:1", kids: [KID_A, KID_A] }],
    ["too many kids", { name: "r", url: "http://r:1", kids: kids(RELAY_RECORD_MAX_KIDS + 1) }],
  ];
  for (const [what, value] of cases) {
    const body = encoder.encode(typeof value === "string" ? value : JSON.stringify(value));
    assert.equal(readRelayRecord(body), null, what);
  }
  const padded = encoder.encode(
    JSON.stringify({
      name: "r",
      url: "http://r:1",
      kids: [],
      pad: "x".repeat(RELAY_RECORD_MAX_BYTES),
    }),
  );
  assert.equal(readRelayRecord(padded), null, "over the size bound");
  assert.equal(readRelayRecord(new Uint8Array([0xff, 0xfe])), null, "not UTF-8");
  assert.deepEqual(
    readRelayRecord(
      encoder.encode(JSON.stringify({ name: "r", url: "http://r:1", kids: kids(32), later: 1 })),
    )?.kids.length,
    RELAY_RECORD_MAX_KIDS,
  );
});
