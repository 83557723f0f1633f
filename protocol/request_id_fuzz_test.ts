import assert from "node:assert/strict";
import { anyText, fc, fuzzParser, mutatedText, noError } from "../tests/fuzz.ts";
import { acceptRequestId, isWellFormedRequestId, MAX_REQUEST_ID_LENGTH } from "./request_id.ts";

Deno.test("fuzz: acceptRequestId() keeps a caller's well-formed id and replaces anything else with a fresh one", async () => {
  const inputs = fc.oneof(anyText, mutatedText("3f1c2a9e-client-1"), fc.constant(null));
  await fuzzParser("acceptRequestId", inputs, (incoming) => {
    const id = acceptRequestId(incoming);
    assert.ok(isWellFormedRequestId(id));
    assert.ok(id.length <= MAX_REQUEST_ID_LENGTH);
    assert.ok(!/[\s=]/.test(id), "an id that could forge a log field");
    if (id !== incoming) assert.match(id, /^[0-9a-f-]{36}$/);
  }, noError);
});
