import assert from "node:assert/strict";
import { anyText, fc, fuzzParser, mutatedText, noError } from "../tests/fuzz.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { readRelayRequestAuth, signRelayRequest, verifyRelayRequest } from "./relay_request.ts";

const relay = await generateSigningKeyPair();
const PATH = "/api/v1/computers/7";
const HEADER = await signRelayRequest(relay.privateKey, 12, "GET", PATH, 1_700_000_000_000);

Deno.test("fuzz: a relay's signed request header reads as a safe id, time and 64-byte signature or null, and verifies only unchanged", async () => {
  const inputs = fc.oneof(anyText, mutatedText(HEADER), fc.constant(HEADER));
  await fuzzParser("readRelayRequestAuth", inputs, async (header) => {
    const auth = readRelayRequestAuth(header);
    if (auth === null) return;
    assert.ok(Number.isSafeInteger(auth.computerId) && auth.computerId > 0);
    assert.ok(Number.isSafeInteger(auth.issuedAt) && auth.issuedAt > 0);
    assert.equal(auth.signature.length, 64);
    const verified = await verifyRelayRequest(relay.publicKey, auth, "GET", PATH);
    if (verified) assert.equal(header, HEADER, "a changed header verified");
  }, noError);
});
