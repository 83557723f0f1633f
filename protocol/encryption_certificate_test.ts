import assert from "node:assert/strict";
import { signDocument } from "../envelope/signed_document.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { verifyEncryptionCertificate } from "./encryption_certificate.ts";

const site = await generateSigningKeyPair();

// Found by encryption_certificate_fuzz_test.ts: a SyntaxError escaped instead of the typed error.
Deno.test("verifyEncryptionCertificate() refuses a signed body whose spki is not base64url with ERR_DOCUMENT_INVALID", async () => {
  const document = await signDocument(site.privateKey, "mle-encryption-certificate", {
    enabled: true,
    kid: "0".repeat(40),
    spki: "A",
    bits: 2048,
    issuedAt: 1,
  });
  await assert.rejects(verifyEncryptionCertificate(site.publicKey, document), {
    name: "MleError",
    code: "ERR_DOCUMENT_INVALID",
  });
});
