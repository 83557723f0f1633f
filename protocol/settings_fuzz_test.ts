import assert from "node:assert/strict";
import { fuzzParser, mleError, signedDocumentCases, signedDocumentOf } from "../tests/fuzz.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signSettings, verifySettings } from "./settings.ts";

const site = await generateSigningKeyPair();
const BODY = {
  computers: [7, 8],
  settings: {
    _BESClient_Report_Encryption: "required",
    _BESClient_UploadManager_ChunkSize: "1024",
  },
  issuedAt: 1,
  id: "00112233445566778899aabbccddeeff",
};
const SIGNED = await signSettings(site.privateKey, BODY as Parameters<typeof signSettings>[1]);

const inputs = signedDocumentCases(SIGNED, BODY);

Deno.test("fuzz: verifySettings() gives checked settings for this computer, or refuses with ERR_DOCUMENT_INVALID", async () => {
  await fuzzParser("verifySettings", inputs, async (input) => {
    const document = await signedDocumentOf(input, site.privateKey, "mle-settings");
    const settings = await verifySettings(site.publicKey, document, 7);
    assert.ok(settings.computers === "all" || settings.computers.includes(7));
    assert.ok(!Array.isArray(settings.settings));
    assert.ok(Object.values(settings.settings).every((value) => typeof value === "string"));
  }, mleError("ERR_DOCUMENT_INVALID"));
});
