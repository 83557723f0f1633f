import assert from "node:assert/strict";
import { anyJson, anyText, fc, fuzzParser, mutatedObject, noError } from "../tests/fuzz.ts";
import { checkKeyExchange, proveKeyExchange } from "./key_exchange.ts";

const REGISTRATION = { protected: "eyJ0eXAiOiJ4In0", payload: "e30", signature: "c2ln" };
const PASSWORD = "a one-time password";
const PROOF = await proveKeyExchange(REGISTRATION, PASSWORD);

Deno.test("fuzz: checkKeyExchange() answers true only for the password's own proof, and never throws", async () => {
  const proofs = fc.oneof(
    mutatedObject(PROOF as unknown as Record<string, unknown>),
    anyJson,
    anyText.map((proof) => ({ proof })),
  );
  await fuzzParser("checkKeyExchange", proofs, async (proof) => {
    const good = await checkKeyExchange(REGISTRATION, proof, PASSWORD);
    assert.equal(good, (proof as { proof?: unknown } | null)?.proof === PROOF.proof);
  }, noError);
});
