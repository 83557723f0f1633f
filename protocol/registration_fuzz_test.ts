import assert from "node:assert/strict";
import { fuzzParser, mleError, signedDocumentCases, signedDocumentOf } from "../tests/fuzz.ts";
import { clientKeyPair as client } from "../envelope/_test_keys.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey } from "../envelope/signature.ts";
import { REGISTRATION_TYPE, signRegistration, verifyRegistration } from "./registration.ts";

const CLAIMS = {
  publicKey: encodeBase64Url(await exportSigningPublicKey(client.publicKey)),
  hostIdentity: "host-1",
  hostname: "host",
  issuedAt: 1,
};
const SIGNED = await signRegistration(client.privateKey, CLAIMS);

const inputs = signedDocumentCases(SIGNED, CLAIMS, {
  ...CLAIMS,
  handover: {},
  previousComputerId: 3,
  compromised: true,
});

Deno.test("fuzz: verifyRegistration() gives claims proven by their own key, or refuses with a typed error", async () => {
  await fuzzParser("verifyRegistration", inputs, async (input) => {
    const document = await signedDocumentOf(input, client.privateKey, REGISTRATION_TYPE);
    const { claims } = await verifyRegistration(document);
    assert.equal(claims.publicKey, CLAIMS.publicKey);
    assert.ok(claims.hostIdentity.length <= 512 && claims.hostname.length <= 255);
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_SIGNATURE_INVALID"));
});
