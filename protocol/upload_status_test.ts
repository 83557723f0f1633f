import assert from "node:assert/strict";
import { readUploadStatus } from "./upload_status.ts";

Deno.test("readUploadStatus() accepts a well-formed status and refuses malformed ones", () => {
  const good = {
    uploadId: "00112233445566778899aabbccddeeff",
    computerId: 3,
    state: "receiving",
    chunkCount: 10,
    received: 4,
    stored: null,
    missing: [[4, 10]],
    missingTruncated: false,
    error: null,
  };
  assert.equal(readUploadStatus(good)?.received, 4);
  const bad: unknown[] = [
    null,
    { ...good, uploadId: "x" },
    { ...good, state: "done" },
    { ...good, chunkCount: 0 },
    { ...good, received: 11 },
    { ...good, missing: [[5, 4]] },
    { ...good, missing: [[0, 11]] },
    { ...good, missing: [[4, 6], [5, 7]] },
    { ...good, missing: "all" },
    { ...good, stored: -1 },
    { ...good, error: { code: 1 } },
  ];
  for (const value of bad) assert.equal(readUploadStatus(value), null, JSON.stringify(value));
});
