import assert from "node:assert/strict";
import {
  anyBytes,
  anyText,
  documentBodies,
  fc,
  fuzzParser,
  mutatedText,
  noError,
} from "../tests/fuzz.ts";
import {
  encodeRelayRecord,
  isRelayRecordDigest,
  readRelayRecord,
  RELAY_RECORD_MAX_BYTES,
  RELAY_RECORD_MAX_KIDS,
} from "./relay_record.ts";

const VALID = {
  name: "relay.example:52311",
  url: "http://relay.example:52311",
  kids: ["0".repeat(40), "a".repeat(40)],
};
const { path, body } = await encodeRelayRecord(VALID);
const encoder = new TextEncoder();
const validText = new TextDecoder().decode(body);

Deno.test("fuzz: readRelayRecord() gives a bounded claim with distinct sorted key ids, or null", async () => {
  const inputs = fc.oneof(
    anyBytes,
    mutatedText(validText).map((text) => encoder.encode(text)),
    documentBodies(VALID).map((value) => encoder.encode(JSON.stringify(value) ?? "")),
  );
  await fuzzParser("readRelayRecord", inputs, (bytes) => {
    const claim = readRelayRecord(bytes);
    if (claim === null) return;
    assert.ok(bytes.length <= RELAY_RECORD_MAX_BYTES);
    assert.ok(claim.name.length >= 1 && claim.name.length <= 200);
    assert.match(claim.url, /^https?:\/\//);
    assert.ok(claim.kids.length <= RELAY_RECORD_MAX_KIDS);
    assert.deepEqual(claim.kids, [...new Set(claim.kids)].sort());
    assert.ok(claim.kids.every((kid) => /^[0-9a-f]{40}$/.test(kid)));
  }, noError);
});

Deno.test("fuzz: isRelayRecordDigest() answers every path segment, true only for 43 base64url characters", async () => {
  const digest = path.slice(path.lastIndexOf("/") + 1);
  await fuzzParser("isRelayRecordDigest", fc.oneof(anyText, mutatedText(digest)), (segment) => {
    if (isRelayRecordDigest(segment)) assert.match(segment, /^[A-Za-z0-9_-]{43}$/);
  }, noError);
});
