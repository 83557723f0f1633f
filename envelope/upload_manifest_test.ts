import assert from "node:assert/strict";
import * as jose from "jose";
import {
  clientKeyPair as client,
  serverKeyPair as server,
  serverKid as kid,
  strangerKeyPair as stranger,
} from "./_test_keys.ts";
import { MANIFEST_CLAIMS } from "./_test_upload.ts";
import { decodeBase64Url } from "./base64url.ts";
import { generateEncryptionKeyPair } from "./encryption_key.ts";
import { MleError } from "./errors.ts";
import {
  openUploadManifest,
  readUploadManifestMessage,
  sealUploadManifest,
  signUploadManifest,
  verifyUploadManifestSignature,
} from "./upload_manifest.ts";

const claims = { ...MANIFEST_CLAIMS, cc: 2 };
const manifest = new TextEncoder().encode(JSON.stringify({ name: "secret-name.log" }));

/** The file's manifest sealed by the client to the server, with a fresh file key. */
function sealTestManifest(): ReturnType<typeof sealUploadManifest> {
  return sealUploadManifest(server.publicKey, kid, client.privateKey, claims, manifest);
}

Deno.test("sealUploadManifest() seals a manifest that only the server opens, with a fresh file key each time", async () => {
  const first = await sealTestManifest();
  const second = await sealTestManifest();
  assert.equal(first.fileKey.length, 32);
  assert.notDeepEqual(first.fileKey, second.fileKey);
  assert.ok(!JSON.stringify(first.message).includes("secret-name"));
  const parsed = readUploadManifestMessage(JSON.parse(JSON.stringify(first.message)));
  assert.equal(parsed.kind, "encrypted");
  assert.deepEqual(parsed.claims, { ...claims, kid });
  await verifyUploadManifestSignature(client.publicKey, parsed);
  const opened = await openUploadManifest(client.publicKey, parsed, server.privateKey);
  assert.deepEqual(opened.manifest, manifest);
  assert.deepEqual(opened.fileKey, first.fileKey);
});

Deno.test("the encrypted manifest is a standard JWE: jose opens it with the server key", async () => {
  const { message, fileKey } = await sealTestManifest();
  const result = await jose.flattenedDecrypt(message, server.privateKey, {
    keyManagementAlgorithms: ["RSA-OAEP-256"],
    contentEncryptionAlgorithms: ["A256GCM"],
  });
  const compactJws = new TextDecoder().decode(result.plaintext);
  assert.equal(compactJws.split(".").length, 3);
  assert.equal(decodeBase64Url(message.encrypted_key).length, 256);
  assert.equal(fileKey.length, 32);
});

Deno.test("verifyUploadManifestSignature() refuses another signer and a changed header", async () => {
  const { message } = await sealTestManifest();
  await assert.rejects(
    verifyUploadManifestSignature(stranger.publicKey, readUploadManifestMessage(message)),
    (error: unknown) => error instanceof MleError && error.code === "ERR_SIGNATURE_INVALID",
  );
  const header = JSON.parse(new TextDecoder().decode(decodeBase64Url(message.protected)));
  const changed = {
    ...message,
    protected: new TextEncoder().encode(JSON.stringify({ ...header, cc: 1 })).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    }),
  };
  await assert.rejects(
    verifyUploadManifestSignature(client.publicKey, readUploadManifestMessage(changed)),
    (error: unknown) => error instanceof MleError && error.code === "ERR_SIGNATURE_INVALID",
  );
});

Deno.test("openUploadManifest() fails opaquely without the right private key", async () => {
  const other = await generateEncryptionKeyPair(2048);
  const { message } = await sealTestManifest();
  await assert.rejects(
    openUploadManifest(client.publicKey, readUploadManifestMessage(message), other.privateKey),
    (error: unknown) => error instanceof MleError && error.code === "ERR_DECRYPTION_FAILED",
  );
});

Deno.test("a clear manifest is a signed JWS naming no key id", async () => {
  const jws = await signUploadManifest(client.privateKey, claims, manifest);
  const parsed = readUploadManifestMessage(jws);
  assert.equal(parsed.kind, "clear");
  assert.equal(parsed.claims.kid, null);
  await verifyUploadManifestSignature(client.publicKey, parsed);
  assert.deepEqual((await openUploadManifest(client.publicKey, parsed, null)).manifest, manifest);
  await assert.rejects(verifyUploadManifestSignature(stranger.publicKey, parsed), MleError);
});

Deno.test("readUploadManifestMessage() refuses malformed messages before any key is touched", () => {
  const cases: unknown[] = [
    null,
    "text",
    { protected: "e30", payload: "", signature: "" },
    { ciphertext: "x" },
  ];
  for (const value of cases) assert.throws(() => readUploadManifestMessage(value), MleError);
});
