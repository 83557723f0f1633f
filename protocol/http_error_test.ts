import assert from "node:assert/strict";
import { errorBody, errorCodeOf, MAX_ERROR_MESSAGE_LENGTH, readErrorAnswer } from "./http_error.ts";

Deno.test("readErrorAnswer() reads what errorBody() writes", () => {
  const body = JSON.parse(JSON.stringify(errorBody("ERR_SPOOL_FULL", "Retry in 5 s")));
  assert.deepEqual(readErrorAnswer(body), {
    kind: "known",
    code: "ERR_SPOOL_FULL",
    message: "Retry in 5 s",
  });
  assert.equal(errorCodeOf(body), "ERR_SPOOL_FULL");
});

Deno.test("readErrorAnswer() gives the unknown case for junk, never throwing", () => {
  const cases: [unknown, string | null][] = [
    [null, null],
    [undefined, null],
    ["ERR_SPOOL_FULL", null],
    [42, null],
    [[], null],
    [[{ error: { code: "ERR_SPOOL_FULL" } }], null],
    [{}, null],
    [{ error: null }, null],
    [{ error: "ERR_SPOOL_FULL" }, null],
    [{ error: ["ERR_SPOOL_FULL"] }, null],
    [{ error: { code: 7, message: "x" } }, null],
    [{ error: { code: "ERR_FROM_A_NEWER_SERVER", message: "x" } }, "ERR_FROM_A_NEWER_SERVER"],
    [{ error: { code: "err_spool_full" } }, null],
    [{ error: { code: "ERR_\u001b[31m" } }, null],
    [{ error: { code: `ERR_${"A".repeat(100)}` } }, null],
    [{ error: { code: "toString" } }, null],
    [{ error: { code: "__proto__" } }, null],
    [JSON.parse('{"error":{"__proto__":{"code":"ERR_SPOOL_FULL"}}}'), null],
  ];
  for (const [value, sentCode] of cases) {
    const answer = readErrorAnswer(value);
    assert.equal(answer.kind, "unknown", JSON.stringify(value));
    assert.equal(answer.kind === "unknown" && answer.sentCode, sentCode, JSON.stringify(value));
    assert.equal(errorCodeOf(value), null);
  }
});

Deno.test("readErrorAnswer() bounds the message and strips control characters", () => {
  const long = readErrorAnswer({ error: { code: "ERR_INTERNAL", message: "x".repeat(100_000) } });
  assert.equal(long.message.length, MAX_ERROR_MESSAGE_LENGTH + 1);
  const forged = readErrorAnswer({
    error: { code: "ERR_INTERNAL", message: "no\nlevel=error forged\u001b[2J\u0085" },
  });
  assert.equal(forged.message, "no level=error forged [2J ");
  assert.equal(readErrorAnswer({ error: { code: "ERR_INTERNAL", message: 5 } }).message, "");
});
