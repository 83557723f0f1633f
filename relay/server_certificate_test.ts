import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSpki, generateEncryptionKeyPair, keyIdOfSpki } from "../envelope/encryption_key.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { API } from "../protocol/paths.ts";
import { ParentStub } from "./_parent_stub.ts";
import { SERVER_CERTIFICATE_FILE, ServerCertificate } from "./server_certificate.ts";

const site = await generateSigningKeyPair();

async function certificateFor(serial: number | undefined, issuedAt: number) {
  const key = await generateEncryptionKeyPair(2048);
  const spki = await exportSpki(key.publicKey);
  const kid = await keyIdOfSpki(spki);
  const document = await signEncryptionCertificate(site.privateKey, {
    enabled: true,
    kid,
    spki: encodeBase64Url(spki),
    bits: 2048,
    ...(serial === undefined ? {} : { serial }),
    issuedAt,
  });
  return { kid, text: JSON.stringify(document) };
}

function certificateOf(dataDir: string, stub: ParentStub, siteKey = site.publicKey) {
  return new ServerCertificate({ parentUrl: stub.url, dataDir, siteKey, log: silentLogger });
}

Deno.test("ServerCertificate keeps the newest certificate in a new instance over the same data dir (as after a restart): an older one served afterwards is not used", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-certificate-" });
  const stub = new ParentStub();
  try {
    const older = await certificateFor(1, Date.now() + 10 * 365 * 86_400_000);
    const newer = await certificateFor(2, Date.now());
    stub.documents.set(API.encryptionCertificate, older.text);
    assert.equal((await certificateOf(dataDir, stub).recipient())?.kid, older.kid);
    stub.documents.set(API.encryptionCertificate, newer.text);
    const first = certificateOf(dataDir, stub);
    assert.equal((await first.recipient())?.kid, newer.kid, "serial 2 supersedes serial 1");

    // Restarted, behind a parent replaying the older one (or serving none at all).
    stub.documents.set(API.encryptionCertificate, older.text);
    const restarted = certificateOf(dataDir, stub);
    assert.equal((await restarted.recipient())?.kid, newer.kid);
    assert.equal((await restarted.recipient(true))?.kid, newer.kid);
    stub.documents.delete(API.encryptionCertificate);
    assert.equal((await certificateOf(dataDir, stub).recipient())?.kid, newer.kid);

    // A certificate signed before serials never replaces one with a serial.
    const legacy = await certificateFor(undefined, Date.now() + 20 * 365 * 86_400_000);
    stub.documents.set(API.encryptionCertificate, legacy.text);
    assert.equal((await certificateOf(dataDir, stub).recipient())?.kid, newer.kid);
  } finally {
    await stub.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("ServerCertificate ignores a stored certificate that the pinned site key did not sign", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-certificate-" });
  const stub = new ParentStub();
  try {
    const intruder = await generateSigningKeyPair();
    const theirs = await certificateFor(99, Date.now());
    await Deno.writeTextFile(`${dataDir}/${SERVER_CERTIFICATE_FILE}`, theirs.text);
    const mine = await certificateFor(1, Date.now());
    stub.documents.set(API.encryptionCertificate, mine.text);
    // Verified against another site key, the stored one (signed by `site`) is ignored.
    const other = certificateOf(dataDir, stub, intruder.publicKey);
    assert.equal(await other.recipient(), null);
    // Against the right key, the parent's serial 1 cannot replace the stored serial 99.
    assert.equal((await certificateOf(dataDir, stub).recipient())?.kid, theirs.kid);
  } finally {
    await stub.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
