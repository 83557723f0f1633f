import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { decodeBase64UrlText, encodeBase64Url } from "../envelope/base64url.ts";
import { exportSpki, generateEncryptionKeyPair, keyIdOfSpki } from "../envelope/encryption_key.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { freePort } from "../tests/run_role.ts";
import { ParentStub } from "./_parent_stub.ts";
import { type DocumentAnswer, DocumentCache } from "./document_cache.ts";
import { ServerCertificate } from "./server_certificate.ts";

const decoder = new TextDecoder();
const IS_WINDOWS = Deno.build.os === "windows";
const MASTHEAD = '{"protected":"eyJ0eXAiOiJtYXN0aGVhZCJ9","payload":"e30","signature":"c2ln"}';

const site = await generateSigningKeyPair();

/** A relay's cache in `dataDir` (a new one when omitted), its masthead pinned to `site`. */
async function openCache(parentUrl: string, dataDir: string): Promise<DocumentCache> {
  return await DocumentCache.open({
    dir: joinPath(dataDir, "cache"),
    parentUrl,
    timeoutMs: 2_000,
    certificate: new ServerCertificate({
      parentUrl,
      dataDir,
      siteKey: site.publicKey,
      log: silentLogger,
    }),
  });
}

async function withCache(
  parentUrl: string,
  body: (documents: DocumentCache, dir: string, dataDir: string) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-cache-" });
  try {
    await body(await openCache(parentUrl, dataDir), joinPath(dataDir, "cache"), dataDir);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** A certificate `signer` signed (the site's unless told), its serial and date given. */
async function certificateFor(serial: number, signer = site.privateKey) {
  const key = await generateEncryptionKeyPair(2048);
  const spki = await exportSpki(key.publicKey);
  const kid = await keyIdOfSpki(spki);
  const document = await signEncryptionCertificate(signer, {
    enabled: true,
    kid,
    spki: encodeBase64Url(spki),
    bits: 2048,
    serial,
    issuedAt: Date.now(),
  });
  return { kid, text: JSON.stringify(document) };
}

function kidServed(answer: DocumentAnswer): string {
  return JSON.parse(decodeBase64UrlText(JSON.parse(decoder.decode(answer.body)).payload)).kid;
}

Deno.test("DocumentCache passes the parent's document through and stores it (0600)", async () => {
  await using stub = new ParentStub();
  stub.documents.set(API.masthead, MASTHEAD);
  await withCache(stub.url, async (documents, dir) => {
    const answer = await documents.get("masthead");
    assert.equal(answer.status, 200);
    assert.equal(answer.stale, false);
    assert.equal(decoder.decode(answer.body), MASTHEAD);
    const path = joinPath(dir, "masthead.json");
    assert.equal(await Deno.readTextFile(path), MASTHEAD);
    if (!IS_WINDOWS) assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("DocumentCache serves the cached copy while the parent answers 503 or nothing", async () => {
  const port = freePort();
  let stub = new ParentStub(port);
  stub.documents.set(API.revocations, '{"cert":1}');
  try {
    await withCache(stub.url, async (documents) => {
      assert.equal((await documents.get("revocations")).status, 200);
      stub.mode = "down";
      const whileDown = await documents.get("revocations");
      assert.deepEqual(
        [whileDown.status, whileDown.stale, decoder.decode(whileDown.body)],
        [200, true, '{"cert":1}'],
      );
      await stub.close();
      const whileGone = await documents.get("revocations");
      assert.deepEqual([whileGone.status, whileGone.stale], [200, true]);
      stub = new ParentStub(port);
      stub.documents.set(API.revocations, '{"cert":2}');
      const fresh = await documents.get("revocations");
      assert.deepEqual([fresh.stale, decoder.decode(fresh.body)], [false, '{"cert":2}']);
    });
  } finally {
    await stub.close();
  }
});

Deno.test("DocumentCache answers 503 ERR_PARENT_UNREACHABLE with nothing cached", async () => {
  await withCache(`http://127.0.0.1:${freePort()}`, async (documents) => {
    const answer = await documents.get("revocations");
    assert.equal(answer.status, 503);
    const body = JSON.parse(decoder.decode(answer.body));
    assert.equal(body.error.code, "ERR_PARENT_UNREACHABLE");
    assert.match(body.error.message, /^Cannot get revocations: /);
  });
});

Deno.test("DocumentCache passes a parent's 404 on and forgets its copy", async () => {
  await using stub = new ParentStub();
  stub.documents.set(API.revocations, '{"cert":1}');
  await withCache(stub.url, async (documents, dir) => {
    await documents.get("revocations");
    stub.documents.delete(API.revocations);
    const answer = await documents.get("revocations");
    assert.equal(answer.status, 404);
    assert.equal(JSON.parse(decoder.decode(answer.body)).error.code, "ERR_NOT_FOUND");
    await assert.rejects(
      Deno.stat(joinPath(dir, "revocations.json")),
      Deno.errors.NotFound,
    );
    stub.mode = "down";
    assert.equal((await documents.get("revocations")).status, 503, "no stale copy");
  });
});

Deno.test("DocumentCache treats a non-JSON or oversized 200 as a failed fetch", async () => {
  await using stub = new ParentStub();
  stub.documents.set(API.masthead, MASTHEAD);
  await withCache(stub.url, async (documents) => {
    await documents.get("masthead");
    stub.documents.set(API.masthead, "<html>proxy error</html>");
    const notJson = await documents.get("masthead");
    assert.deepEqual([notJson.status, notJson.stale], [200, true]);
    assert.equal(decoder.decode(notJson.body), MASTHEAD);
    stub.documents.set(API.masthead, `"${"x".repeat(MAX_DOCUMENT_BYTES)}"`);
    const tooLarge = await documents.get("masthead");
    assert.deepEqual([tooLarge.status, tooLarge.stale], [200, true]);
    assert.equal(decoder.decode(tooLarge.body), MASTHEAD);
  });
});

Deno.test("DocumentCache keeps settings per computer id and checks the id", async () => {
  await using stub = new ParentStub();
  stub.documents.set(`${API.settings}?computer=5`, '{"for":5}');
  stub.documents.set(`${API.settings}?computer=6`, '{"for":6}');
  await withCache(stub.url, async (documents, dir) => {
    assert.equal(decoder.decode((await documents.get("settings", 5)).body), '{"for":5}');
    assert.equal(decoder.decode((await documents.get("settings", 6)).body), '{"for":6}');
    stub.mode = "down";
    assert.equal(decoder.decode((await documents.get("settings", 5)).body), '{"for":5}');
    assert.equal((await documents.get("settings", 7)).status, 503);
    assert.equal(await Deno.readTextFile(joinPath(dir, "settings-6.json")), '{"for":6}');
    for (const bad of [undefined, 0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1]) {
      assert.throws(() => documents.get("settings", bad), RangeError);
    }
  });
});

Deno.test("DocumentCache asks the parent once for many simultaneous requests", async () => {
  await using stub = new ParentStub();
  stub.documents.set(API.masthead, MASTHEAD);
  await withCache(stub.url, async (documents) => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => documents.get("masthead")),
    );
    assert.ok(answers.every((answer) => answer.status === 200));
    assert.equal(stub.documentRequests.length, 1);
  });
});

Deno.test("DocumentCache serves the newest certificate verified against the pinned site key: not an older one the parent serves later, one the site did not sign, or none, even after a restart", async () => {
  await using stub = new ParentStub();
  const first = await certificateFor(1);
  const second = await certificateFor(2);
  const intruder = await generateSigningKeyPair();
  const forged = await certificateFor(3, intruder.privateKey);
  await withCache(stub.url, async (documents, _dir, dataDir) => {
    stub.documents.set(API.encryptionCertificate, first.text);
    assert.equal(kidServed(await documents.get("encryption-certificate")), first.kid);
    stub.documents.set(API.encryptionCertificate, second.text);
    assert.equal(kidServed(await documents.get("encryption-certificate")), second.kid);

    for (const [label, served] of [["older", first.text], ["forged", forged.text]]) {
      stub.documents.set(API.encryptionCertificate, served);
      const answer = await documents.get("encryption-certificate");
      assert.deepEqual([answer.status, answer.stale], [200, false], label);
      assert.equal(kidServed(answer), second.kid, label);
    }
    stub.documents.delete(API.encryptionCertificate);
    assert.equal(kidServed(await documents.get("encryption-certificate")), second.kid, "none");
    stub.mode = "down";
    const whileDown = await documents.get("encryption-certificate");
    assert.deepEqual([whileDown.status, whileDown.stale], [200, true]);
    assert.equal(kidServed(whileDown), second.kid);

    // Restarted, behind a parent that replays the older one.
    stub.mode = "up";
    stub.documents.set(API.encryptionCertificate, first.text);
    const restarted = await openCache(stub.url, dataDir);
    assert.equal(kidServed(await restarted.get("encryption-certificate")), second.kid);
  });

  // A relay that never verified one passes neither a forged certificate nor an unchecked one.
  await withCache(stub.url, async (documents) => {
    stub.documents.set(API.encryptionCertificate, forged.text);
    const refused = await documents.get("encryption-certificate");
    assert.equal(refused.status, 503);
    assert.equal(refused.retryAfter, "30");
    const body = JSON.parse(decoder.decode(refused.body));
    assert.equal(body.error.code, "ERR_PARENT_BAD_ANSWER");
    assert.match(body.error.message, /pinned did not sign/);
  });
});
