import assert from "node:assert/strict";
import { describeUndelivered, readReportAnswer, type ReportAnswer } from "./report_answer.ts";
import { errorBody } from "../protocol/http_error.ts";
import type { WireErrorCode } from "../protocol/wire_error_codes.ts";

const refusal = (status: number, code: WireErrorCode, message = "why") => ({
  status,
  body: errorBody(code, message),
});

Deno.test("readReportAnswer() maps each answer to what the agent does", () => {
  const cases: [{ status: number; body: unknown; retryAfter?: string }, boolean, ReportAnswer][] = [
    [{ status: 200, body: { status: "stored" } }, true, { kind: "delivered" }],
    [{ status: 202, body: null }, false, { kind: "delivered" }],
    [refusal(409, "ERR_DUPLICATE_REPORT"), true, { kind: "delivered" }],
    [refusal(400, "ERR_UNKNOWN_KEY_ID"), true, { kind: "retry-with-new-certificate" }],
    [refusal(403, "ERR_UNKNOWN_COMPUTER"), true, { kind: "reregister" }],
    [
      refusal(403, "ERR_KEY_EXCHANGE_REQUIRED", "register first"),
      true,
      { kind: "key-exchange-required", said: "register first" },
    ],
    [refusal(415, "ERR_ENCRYPTION_NOT_SUPPORTED"), true, { kind: "encryption-refused" }],
    [
      refusal(415, "ERR_ENCRYPTION_NOT_SUPPORTED", "legacy"),
      false,
      {
        kind: "refused",
        status: 415,
        code: "ERR_ENCRYPTION_NOT_SUPPORTED",
        said: "legacy",
        forGood: false,
      },
    ],
    [refusal(503, "ERR_SPOOL_FULL", "full"), true, {
      kind: "busy",
      status: 503,
      said: "full",
      retryAfterMs: null,
    }],
    [{ ...refusal(503, "ERR_RETRY_LATER", "later"), retryAfter: "10" }, true, {
      kind: "busy",
      status: 503,
      said: "later",
      retryAfterMs: 10_000,
    }],
    [refusal(429, "ERR_TOO_MANY_NEW_KEYS", "slow"), true, {
      kind: "busy",
      status: 429,
      said: "slow",
      retryAfterMs: null,
    }],
    [{ status: 502, body: "<html>" }, true, {
      kind: "busy",
      status: 502,
      said: "HTTP 502",
      retryAfterMs: null,
    }],
    [
      refusal(403, "ERR_COMPUTER_REVOKED", "revoked"),
      true,
      {
        kind: "refused",
        status: 403,
        code: "ERR_COMPUTER_REVOKED",
        said: "revoked",
        forGood: false,
      },
    ],
    [
      refusal(403, "ERR_CLEAR_TEXT_REFUSED", "encrypt"),
      false,
      {
        kind: "refused",
        status: 403,
        code: "ERR_CLEAR_TEXT_REFUSED",
        said: "encrypt",
        forGood: false,
      },
    ],
    [
      refusal(400, "ERR_REPORT_INVALID", "bad"),
      true,
      { kind: "refused", status: 400, code: "ERR_REPORT_INVALID", said: "bad", forGood: true },
    ],
    // A code from a newer server is a refusal of the report, never a crash.
    [
      { status: 400, body: { error: { code: "ERR_FROM_THE_FUTURE", message: "new" } } },
      true,
      { kind: "refused", status: 400, code: null, said: "new", forGood: true },
    ],
  ];
  for (const [answer, encrypted, expected] of cases) {
    assert.deepEqual(readReportAnswer(answer, encrypted), expected, JSON.stringify(answer));
  }
});

Deno.test("describeUndelivered() says what happened, never the outcome's name", () => {
  const held = { computerId: 7, serverKid: "kid-1" };
  const texts = [
    describeUndelivered(3, { kind: "retry-with-new-certificate" }, held),
    describeUndelivered(3, { kind: "reregister" }, held),
    describeUndelivered(3, { kind: "encryption-refused" }, held),
    describeUndelivered(3, {
      kind: "refused",
      status: 400,
      code: "ERR_REPORT_INVALID",
      said: "bad",
      forGood: true,
    }, held),
  ];
  assert.match(texts[0], /kid-1/);
  assert.match(texts[1], /computer 7/);
  assert.match(texts[3], /for good \(kept in queue\/rejected\): bad$/);
  for (const text of texts) {
    assert.doesNotMatch(text, /retry-with-new-certificate|reregister|encryption-refused/);
  }
});
