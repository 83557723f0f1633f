import assert from "node:assert/strict";
import { fuzzParser, mleError, signedDocumentCases, signedDocumentOf } from "../tests/fuzz.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { HANDOVER_TYPE, signHandover, verifyHandover } from "./handover.ts";

const oldKey = await generateSigningKeyPair();
const CLAIMS = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1, lastSeq: 3 };
const SIGNED = await signHandover(oldKey.privateKey, CLAIMS);

const inputs = signedDocumentCases(SIGNED, CLAIMS);

Deno.test("fuzz: verifyHandover() gives the old key's claims, or refuses with a typed error", async () => {
  await fuzzParser("verifyHandover", inputs, async (input) => {
    const document = await signedDocumentOf(input, oldKey.privateKey, HANDOVER_TYPE);
    const claims = await verifyHandover(oldKey.publicKey, document);
    assert.ok(Number.isSafeInteger(claims.oldComputerId));
    assert.equal(typeof claims.newPublicKey, "string");
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_SIGNATURE_INVALID"));
});
