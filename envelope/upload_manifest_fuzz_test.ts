import assert from "node:assert/strict";
import { fuzzParser, joseInputs, mleError, SEALED_MEMBERS } from "../tests/fuzz.ts";
import {
  clientKeyPair as client,
  serverKeyPair as server,
  serverKid as kid,
} from "./_test_keys.ts";
import {
  openUploadManifest,
  readUploadManifestMessage,
  sealUploadManifest,
  signUploadManifest,
  verifyUploadManifestSignature,
} from "./upload_manifest.ts";

const CLAIMS = { cid: 7, uid: "00112233445566778899aabbccddeeff", cs: 131072, cc: 1 };
const MANIFEST = new TextEncoder().encode('{"v":1,"name":"a.log"}');
const { message: SEALED } = await sealUploadManifest(
  server.publicKey,
  kid,
  client.privateKey,
  CLAIMS,
  MANIFEST,
);
const CLEAR = await signUploadManifest(client.privateKey, CLAIMS, MANIFEST);

const messages = joseInputs([SEALED, CLEAR], [SEALED_MEMBERS]);
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
    assert.equal(parsed.claims.uid, CLAIMS.uid);
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
