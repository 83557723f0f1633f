import assert from "node:assert/strict";
import { readRegistrationAnswer, type RegistrationAnswer } from "./registration_request.ts";

Deno.test("readRegistrationAnswer() maps each answer to what the client does", () => {
  const cases: [{ status: number; body: unknown; retryAfter?: string }, RegistrationAnswer][] = [
    [{ status: 200, body: { computerId: 7 } }, { kind: "registered", computerId: 7 }],
    [{ status: 200, body: { computerId: "7" } }, { kind: "refused", said: "HTTP 200" }],
    [{ status: 200, body: { computerId: 0 } }, { kind: "refused", said: "HTTP 200" }],
    [{ status: 200, body: null }, { kind: "refused", said: "HTTP 200" }],
    [
      { status: 429, body: { error: { code: "ERR_TOO_MANY_ATTEMPTS", message: "wait" } } },
      { kind: "busy", said: "wait", retryAfterMs: null },
    ],
    [{ status: 503, body: "<html>" }, { kind: "busy", said: "HTTP 503", retryAfterMs: null }],
    [
      { status: 503, body: null, retryAfter: "7" },
      { kind: "busy", said: "HTTP 503", retryAfterMs: 7_000 },
    ],
    [
      { status: 403, body: { error: { code: "ERR_KEY_EXCHANGE_REQUIRED", message: "pw" } } },
      { kind: "key-exchange", code: "ERR_KEY_EXCHANGE_REQUIRED", said: "pw" },
    ],
    [
      { status: 403, body: { error: { code: "ERR_KEY_EXCHANGE_FAILED", message: "used" } } },
      { kind: "key-exchange", code: "ERR_KEY_EXCHANGE_FAILED", said: "used" },
    ],
    [
      { status: 403, body: { error: { code: "ERR_HANDOVER_INVALID", message: "forged" } } },
      { kind: "refused", said: "forged" },
    ],
  ];
  for (const [answer, expected] of cases) {
    assert.deepEqual(readRegistrationAnswer(answer), expected, JSON.stringify(answer));
  }
});
