import assert from "node:assert/strict";
import { fuzzParser, joseInputs, mleError, SEALED_MEMBERS } from "../tests/fuzz.ts";
import { clientKeyPair as client, serverKeyPair as server } from "./_test_keys.ts";
import { MANIFEST, MANIFEST_CLAIMS, SEALED_MANIFEST, SIGNED_MANIFEST } from "./_test_upload.ts";
import {
  openUploadManifest,
  readUploadManifestMessage,
  verifyUploadManifestSignature,
} from "./upload_manifest.ts";

const messages = joseInputs([SEALED_MANIFEST, SIGNED_MANIFEST], [SEALED_MEMBERS]);
const readErrors = ["ERR_ENVELOPE_MALFORMED", "ERR_DECRYPTION_FAILED"] as const;

Deno.test("fuzz: readUploadManifestMessage() reads valid claims, or refuses with a typed error", async () => {
  await fuzzParser("readUploadManifestMessage", messages, (value) => {
    const { claims } = readUploadManifestMessage(value);
    assert.match(claims.uid, /^[0-9a-f]{32}$/);
    assert.ok([claims.cid, claims.cs, claims.cc].every((n) => Number.isSafeInteger(n) && n >= 1));
  }, mleError(...readErrors));
});

Deno.test("fuzz: verifyUploadManifestSignature() passes only the sender's manifest, or refuses with a typed error", async () => {
  await fuzzParser("verifyUploadManifestSignature", messages, async (value) => {
    const parsed = readUploadManifestMessage(value);
    await verifyUploadManifestSignature(client.publicKey, parsed);
    assert.equal(parsed.claims.uid, MANIFEST_CLAIMS.uid);
  }, mleError(...readErrors, "ERR_SIGNATURE_INVALID"));
});

Deno.test("fuzz: openUploadManifest() opens only the sealed manifest, or refuses with a typed error", async () => {
  await fuzzParser(
    "openUploadManifest",
    messages,
    async (value) => {
      const parsed = readUploadManifestMessage(value);
      const { manifest } = await openUploadManifest(client.publicKey, parsed, server.privateKey);
      assert.deepEqual(manifest, MANIFEST);
    },
    mleError(...readErrors, "ERR_SIGNATURE_INVALID"),
  );
});
