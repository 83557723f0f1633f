import assert from "node:assert/strict";
import { readUploadRefusal, type UploadRefusal } from "./upload_refusal.ts";

const answer = (status: number, code: string, message = "why") => ({
  status,
  body: { error: { code, message } },
});

Deno.test("readUploadRefusal() maps each refusal to what the uploader does", () => {
  const cases: [{ status: number; body: unknown }, UploadRefusal][] = [
    [answer(404, "ERR_UNKNOWN_UPLOAD"), { kind: "unknown-upload", said: "why" }],
    [answer(413, "ERR_UPLOAD_QUOTA_EXCEEDED"), { kind: "quota-full", said: "why" }],
    [answer(400, "ERR_UNKNOWN_KEY_ID"), {
      kind: "new-manifest",
      why: "the server no longer has that key",
      said: "why",
    }],
    [answer(400, "ERR_CHUNK_TOO_LARGE"), {
      kind: "new-manifest",
      why: "the server wants smaller chunks",
      said: "why",
    }],
    [answer(403, "ERR_COMPUTER_REVOKED"), { kind: "sender-refused", said: "why" }],
    [{ status: 502, body: "<html>" }, { kind: "try-later", status: 502, said: "HTTP 502" }],
    [answer(400, "ERR_MANIFEST_INVALID"), {
      kind: "failed",
      code: "ERR_MANIFEST_INVALID",
      status: 400,
      said: "why",
    }],
    // A code from a newer server fails the upload with its status, never a crash.
    [answer(400, "ERR_FROM_THE_FUTURE"), { kind: "failed", code: null, status: 400, said: "why" }],
  ];
  for (const [refused, expected] of cases) {
    assert.deepEqual(readUploadRefusal(refused), expected, JSON.stringify(refused));
  }
});
