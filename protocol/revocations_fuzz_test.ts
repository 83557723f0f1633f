import assert from "node:assert/strict";
import { fuzzParser, mleError, signedDocumentCases, signedDocumentOf } from "../tests/fuzz.ts";
import { isKeyId } from "../envelope/encryption_key.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signRevocations, verifyRevocations } from "./revocations.ts";

const site = await generateSigningKeyPair();
const BODY = { revoked: [3, 9], retiredKeys: ["a".repeat(40)], issuedAt: 1 };
const SIGNED = await signRevocations(site.privateKey, BODY);

const inputs = signedDocumentCases(SIGNED, BODY);

Deno.test("fuzz: verifyRevocations() gives positive computer ids and key ids, or refuses with ERR_DOCUMENT_INVALID", async () => {
  await fuzzParser("verifyRevocations", inputs, async (input) => {
    const document = await signedDocumentOf(input, site.privateKey, "mle-revocations");
    const list = await verifyRevocations(site.publicKey, document);
    assert.ok(list.revoked.every((id) => Number.isSafeInteger(id) && id > 0));
    assert.ok((list.retiredKeys ?? []).every(isKeyId));
  }, mleError("ERR_DOCUMENT_INVALID"));
});
