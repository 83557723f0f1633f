import assert from "node:assert/strict";
import { anyJson, fc, fuzzParser, mutatedObject, noError } from "../tests/fuzz.ts";
import { MAX_STATUS_RANGES } from "./upload.ts";
import { readUploadStatus } from "./upload_status.ts";

const UID = "00112233445566778899aabbccddeeff";
const STATUS = {
  uploadId: UID,
  computerId: 7,
  state: "receiving",
  chunkCount: 10,
  received: 4,
  stored: 2,
  missing: [[1, 3], [5, 9]],
  missingTruncated: false,
  error: { code: "ERR_X", message: "why" },
};

Deno.test("fuzz: readUploadStatus() gives a consistent status or null, and never throws", async () => {
  const inputs = fc.oneof(
    mutatedObject(STATUS),
    fc.array(fc.tuple(fc.integer({ min: -2, max: 12 }), fc.integer({ min: -2, max: 12 })), {
      maxLength: 5,
    }).map((missing) => ({ ...STATUS, missing })),
    anyJson,
  );
  await fuzzParser("readUploadStatus", inputs, (value) => {
    const status = readUploadStatus(value);
    if (status === null) return;
    assert.ok(status.received >= 0 && status.received <= status.chunkCount);
    assert.ok(status.missing.length <= MAX_STATUS_RANGES);
    let last = 0;
    for (const [start, end] of status.missing) {
      assert.ok(start >= last && end > start && end <= status.chunkCount);
      last = end;
    }
  }, noError);
});
