import assert from "node:assert/strict";
import { serverKeyPair } from "../envelope/_test_keys.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSpki, keyIdOfSpki } from "../envelope/encryption_key.ts";
import { MleError } from "../envelope/errors.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signDocument } from "../envelope/signed_document.ts";
import {
  signEncryptionCertificate,
  verifyEncryptionCertificate,
} from "./encryption_certificate.ts";

const site = await generateSigningKeyPair();
const spki = await exportSpki(serverKeyPair.publicKey);
const kid = await keyIdOfSpki(spki);

Deno.test("a certificate carries the store's serial; one signed before serials reads without it", async () => {
  const body = { enabled: true as const, kid, spki: encodeBase64Url(spki), bits: 2048 };
  const withSerial = await signEncryptionCertificate(site.privateKey, {
    ...body,
    serial: 3,
    issuedAt: 9,
  });
  const read = await verifyEncryptionCertificate(site.publicKey, withSerial);
  assert.deepEqual(read.certificate, { ...body, serial: 3, issuedAt: 9 });
  assert.ok(read.publicKey);
  const legacy = await signEncryptionCertificate(site.privateKey, { enabled: false, issuedAt: 5 });
  assert.deepEqual((await verifyEncryptionCertificate(site.publicKey, legacy)).certificate, {
    enabled: false,
    issuedAt: 5,
  });
});

Deno.test("a certificate whose serial is not a positive integer is refused", async () => {
  for (const serial of [0, 2.5, "4"]) {
    const document = await signDocument(site.privateKey, "mle-encryption-certificate", {
      enabled: false,
      serial,
      issuedAt: 1,
    });
    await assert.rejects(
      verifyEncryptionCertificate(site.publicKey, document),
      (error: unknown) => error instanceof MleError && error.code === "ERR_DOCUMENT_INVALID",
    );
  }
  await assert.rejects(
    signEncryptionCertificate(site.privateKey, { enabled: false, serial: -1, issuedAt: 1 }),
    RangeError,
  );
});

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
