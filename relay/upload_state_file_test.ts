import assert from "node:assert/strict";
import { encodeUploadState, readUploadState, type UploadState } from "./upload_state_file.ts";

Deno.test("an upload's state reads back as it was written", () => {
  const state: UploadState = {
    manifestDelivered: true,
    refused: { status: 413, code: "ERR_UPLOAD_QUOTA_EXCEEDED", message: "over the quota" },
    complete: false,
    createdAt: 1_700_000_000_000,
  };
  assert.deepEqual(readUploadState(encodeUploadState(state), 0), state);
});

Deno.test("a missing, torn or foreign state reads as an upload to retry", () => {
  const retry = { manifestDelivered: false, refused: null, complete: false, createdAt: 42 };
  assert.deepEqual(readUploadState(null, 42), retry);
  assert.deepEqual(readUploadState('{"manifestDelivered": tr', 42), retry);
  assert.deepEqual(readUploadState("[1, 2]", 42), retry);
  assert.deepEqual(
    readUploadState(JSON.stringify({ manifestDelivered: "yes", refused: { status: "413" } }), 42),
    retry,
  );
  // A refusal with a code outside the catalogue keeps its status and message, under a known code.
  assert.deepEqual(
    readUploadState(JSON.stringify({ refused: { status: 400, code: "ERR_?", message: "no" } }), 1)
      .refused,
    { status: 400, code: "ERR_UPLOAD_REFUSED", message: "no" },
  );
});
