import assert from "node:assert/strict";
import { errorBody } from "../protocol/http_error.ts";
import { type ChunkVerdict, classifyChunkAnswer } from "./chunk_verdict.ts";

/** A parent's status of an upload after a chunk it stored. */
function stored(received: number, state = "receiving") {
  return { result: "stored", uploadId: "u1", computerId: 4, state, received, chunkCount: 3 };
}

Deno.test("classifyChunkAnswer() reads every kind of parent answer", () => {
  const cases: Array<[string, number, unknown, number | null, ChunkVerdict]> = [
    ["stored", 200, stored(1), null, { kind: "taken", body: stored(1), complete: false }],
    [
      "the last chunk",
      200,
      stored(3, "complete"),
      null,
      { kind: "taken", body: stored(3, "complete"), complete: true },
    ],
    ["buffered by a relay", 202, { result: "buffered" }, null, {
      kind: "taken",
      body: { result: "buffered" },
      complete: false,
    }],
    ["no body", 204, null, null, { kind: "taken", body: null, complete: false }],
    ["unknown upload", 404, errorBody("ERR_UNKNOWN_UPLOAD", "x"), null, {
      kind: "unknown-upload",
    }],
    ["busy", 503, errorBody("ERR_RETRY_LATER", "x"), 2000, {
      kind: "retry",
      reason: "parent answered 503",
      retryAfterMs: 2000,
    }],
    ["timeout", 408, null, null, {
      kind: "retry",
      reason: "parent answered 408",
      retryAfterMs: null,
    }],
    ["too many", 429, null, 1000, {
      kind: "retry",
      reason: "parent answered 429",
      retryAfterMs: 1000,
    }],
    ["broken", 500, errorBody("ERR_INTERNAL", "x"), null, {
      kind: "retry",
      reason: "parent answered 500",
      retryAfterMs: null,
    }],
    ["a damaged chunk", 400, errorBody("ERR_DECRYPTION_FAILED", "x"), null, {
      kind: "chunk-refused",
      code: "ERR_DECRYPTION_FAILED",
    }],
    ["a forged clear chunk", 403, errorBody("ERR_SIGNATURE_INVALID", "x"), null, {
      kind: "chunk-refused",
      code: "ERR_SIGNATURE_INVALID",
    }],
    ["a chunk of the wrong length", 400, errorBody("ERR_CHUNK_INVALID", "x"), null, {
      kind: "chunk-refused",
      code: "ERR_CHUNK_INVALID",
    }],
  ];
  for (const [label, status, body, retryAfterMs, expected] of cases) {
    assert.deepEqual(classifyChunkAnswer({ status, body, retryAfterMs }), expected, label);
  }
  const refusals: Array<[string, number, unknown]> = [
    ["a revoked computer", 403, errorBody("ERR_COMPUTER_REVOKED", "x")],
    ["a quota", 413, errorBody("ERR_UPLOAD_QUOTA_EXCEEDED", "x")],
    ["another 404", 404, errorBody("ERR_NOT_FOUND", "x")],
    ["a 4xx without a body", 400, null],
  ];
  for (const [label, status, body] of refusals) {
    const answer = { status, body, retryAfterMs: null };
    assert.deepEqual(classifyChunkAnswer(answer), { kind: "upload-refused", answer }, label);
  }
});
