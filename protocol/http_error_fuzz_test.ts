import assert from "node:assert/strict";
import { anyJson, anyText, documentBodies, fc, fuzzParser, noError } from "../tests/fuzz.ts";
import { MAX_ERROR_MESSAGE_LENGTH, readErrorAnswer } from "./http_error.ts";
import { isWireErrorCode } from "./wire_error_codes.ts";

const VALID = { error: { code: "ERR_SPOOL_FULL", message: "Cannot take the report now" } };

Deno.test("fuzz: readErrorAnswer() reads any parent's body into a catalogue code or unknown, with a bounded printable message", async () => {
  const inputs = fc.oneof(
    anyJson,
    documentBodies(VALID),
    fc.record({ error: fc.record({ code: fc.oneof(anyText, anyJson), message: anyText }) }),
  );
  await fuzzParser("readErrorAnswer", inputs, (body) => {
    const answer = readErrorAnswer(body);
    assert.ok(answer.message.length <= MAX_ERROR_MESSAGE_LENGTH + 1);
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(answer.message), "a control character");
    if (answer.kind === "known") assert.ok(isWireErrorCode(answer.code));
    else if (answer.sentCode !== null) assert.match(answer.sentCode, /^[A-Z][A-Z0-9_]{0,63}$/);
  }, noError);
});
