import assert from "node:assert/strict";
import { signDocument } from "../envelope/signed_document.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { verifySettings } from "./settings.ts";

const site = await generateSigningKeyPair();

function settingsDocument(settings: unknown) {
  return signDocument(site.privateKey, "mle-settings", {
    computers: "all",
    settings,
    issuedAt: 1,
    id: "00112233445566778899aabbccddeeff",
  });
}

Deno.test("verifySettings() gives the settings a document for all computers sets", async () => {
  const document = await settingsDocument({ _BESClient_UploadManager_ChunkSize: "4096" });
  const verified = await verifySettings(site.publicKey, document, 7);
  assert.deepEqual(verified.settings, { _BESClient_UploadManager_ChunkSize: "4096" });
});

// Found by settings_fuzz_test.ts: a value that is not text passed as its String() form, and
// reached the client's settings as an object or a number.
Deno.test("verifySettings() refuses a setting whose value is not a string with ERR_DOCUMENT_INVALID", async () => {
  for (const settings of [{ _BESClient_UploadManager_ChunkSize: {} }, { Name: 5 }, ["x"]]) {
    await assert.rejects(verifySettings(site.publicKey, await settingsDocument(settings), 7), {
      name: "MleError",
      code: "ERR_DOCUMENT_INVALID",
    }, JSON.stringify(settings));
  }
});
