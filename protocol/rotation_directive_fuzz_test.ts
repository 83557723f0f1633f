import assert from "node:assert/strict";
import { fuzzParser, mleError, signedDocumentCases, signedDocumentOf } from "../tests/fuzz.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import {
  MAX_ROTATION_REQUESTS,
  signRotationDirective,
  verifyRotationDirective,
} from "./rotation_directive.ts";

const site = await generateSigningKeyPair();
const BODY = {
  serial: 4,
  issuedAt: 1_700_000_000_000,
  requests: [
    { computerId: 3, requestedIn: 4, requestedAt: 1_700_000_000_000, compromised: false },
    { computerId: 9, requestedIn: 2, requestedAt: 1_690_000_000_000, compromised: true },
  ],
};
const SIGNED = await signRotationDirective(site.privateKey, BODY);

Deno.test("fuzz: verifyRotationDirective() gives a serial and one request per named computer, or refuses with ERR_DOCUMENT_INVALID", async () => {
  const inputs = signedDocumentCases(SIGNED, BODY);
  await fuzzParser("verifyRotationDirective", inputs, async (input) => {
    const document = await signedDocumentOf(input, site.privateKey, "mle-rotation-directive");
    const directive = await verifyRotationDirective(site.publicKey, document);
    assert.ok(Number.isSafeInteger(directive.serial) && directive.serial > 0);
    assert.ok(directive.requests.length <= MAX_ROTATION_REQUESTS);
    const ids = directive.requests.map((request) => request.computerId);
    assert.equal(new Set(ids).size, ids.length, "a computer named twice");
    for (const request of directive.requests) {
      assert.ok(Number.isSafeInteger(request.computerId) && request.computerId > 0);
      assert.equal(typeof request.compromised, "boolean");
    }
  }, mleError("ERR_DOCUMENT_INVALID"));
});
