import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { readRelayRequestAuth, signRelayRequest, verifyRelayRequest } from "./relay_request.ts";

Deno.test("readRelayRequestAuth() reads a signed header, and null for a malformed one", async () => {
  const relay = await generateSigningKeyPair();
  const header = await signRelayRequest(relay.privateKey, 12, "GET", "/api/v1/computers/7", 5);
  const auth = readRelayRequestAuth(header);
  assert.ok(auth !== null);
  assert.equal(auth.computerId, 12);
  assert.equal(auth.issuedAt, 5);
  assert.equal(await verifyRelayRequest(relay.publicKey, auth, "GET", "/api/v1/computers/7"), true);
  assert.equal(
    await verifyRelayRequest(relay.publicKey, auth, "GET", "/api/v1/computers/8"),
    false,
  );
  for (
    const malformed of [
      undefined,
      null,
      "",
      "12.5",
      "0.5." + "A".repeat(86),
      `12.5.${"A".repeat(85)}`,
      // 86 characters, the last carrying stray bits: not canonical base64url (found by fuzzing).
      `12.5.${"A".repeat(85)}B`,
    ]
  ) {
    assert.equal(readRelayRequestAuth(malformed), null, String(malformed));
  }
});
