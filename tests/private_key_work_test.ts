/**
 * Bounded private-key work, with real processes on 127.0.0.1 (issue 11, section 4): a registered
 * client cannot make the server do RSA private-key operations without bound, whether it sends
 * fresh wrapped keys, the same garbage again and again, or chunks of an upload the server no
 * longer holds in memory; the server's own RSA count says so, and a well-behaved client's reports
 * are still stored.
 */

import assert from "node:assert/strict";
import { reportBytes as testReportBytes } from "./report_bytes.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { type ContentKey, createContentKey } from "../envelope/jwe.ts";
import { type EncryptedMessage, sealReport } from "../envelope/report_message.ts";
import { signBytes } from "../envelope/signature.ts";
import { deriveChunkKey, sealChunk } from "../envelope/upload_chunk.ts";
import { sealUploadManifest } from "../envelope/upload_manifest.ts";
import { API } from "../protocol/paths.ts";
import { uploadManifestOf } from "./signed_upload.ts";
import {
  clientReport,
  createSiteWithKey,
  type RegisteredSender,
  registeredSender,
  serverMetrics,
  startServer,
  storedReports,
} from "./deployment.ts";

const encoder = new TextEncoder();

interface Answer {
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  text: string;
}

async function send(port: number, path: string, init: RequestInit): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
  const text = await response.text();
  let code: string | undefined;
  try {
    code = JSON.parse(text)?.error?.code;
  } catch {
    // not JSON: asserted by the caller
  }
  return { status: response.status, code, retryAfter: response.headers.get("retry-after"), text };
}

function postReport(port: number, message: EncryptedMessage): Promise<Answer> {
  return send(port, API.reports, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
}

const reportBytes = (cid: number, seq: number) =>
  testReportBytes(cid, seq, { Test: "private-key-work" }, {});

/** A content key wrapped afresh: the server needs one RSA unwrap for the first report under it. */
async function freshKey(sender: RegisteredSender): Promise<ContentKey> {
  return (await createContentKey(sender.serverPublicKey, sender.kid)).contentKey;
}

/** One report of `sender` sealed under `contentKey`. */
async function sealed(
  sender: RegisteredSender,
  contentKey: ContentKey,
  seq: number,
): Promise<EncryptedMessage> {
  return await sealReport(
    contentKey,
    sender.privateKey,
    { cid: sender.cid, seq },
    reportBytes(sender.cid, seq),
  );
}

/** Replaces the wrapped key and signs again, as the registered client itself could. */
async function withWrappedKey(
  message: EncryptedMessage,
  encryptedKey: string,
  privateKey: CryptoKey,
): Promise<EncryptedMessage> {
  const changed = { ...message, encrypted_key: encryptedKey };
  const compact = [
    changed.protected,
    changed.encrypted_key,
    changed.iv,
    changed.ciphertext,
    changed.tag,
  ].join(".");
  return { ...changed, sig: encodeBase64Url(await signBytes(privateKey, encoder.encode(compact))) };
}

async function queuedReports(clientDir: string): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(`${clientDir}/queue`)) {
    if (entry.isFile && entry.name.endsWith(".json")) count++;
  }
  return count;
}

Deno.test("a registered client sending a fresh wrapped key with every report gets 429 ERR_TOO_MANY_NEW_KEYS with Retry-After past its budget; the server's RSA count stays within it and another client's reports are stored", async () => {
  await using site = await createSiteWithKey();
  await using server = await startServer(site); // the default budget: 10 new content keys an hour
  const port = site.serverPort;
  const hostileDir = `${site.root}/hostile`;
  const hostile = await registeredSender(site, hostileDir, port); // its first key: 1 of 10
  const before = (await serverMetrics(server)).rsaPrivateOps;
  const keys: ContentKey[] = [];
  const answers: Answer[] = [];
  let seq = 1000;
  for (let i = 0; i < 30; i++) {
    keys.push(await freshKey(hostile));
    answers.push(await postReport(port, await sealed(hostile, keys[i], seq++)));
  }
  const spent = (await serverMetrics(server)).rsaPrivateOps - before;

  const stored = answers.filter((answer) => answer.status === 200);
  const refused = answers.filter((answer) => answer.status === 429);
  assert.equal(
    stored.length + refused.length,
    answers.length,
    answers.map((a) => a.text).join("\n"),
  );
  assert.equal(stored.length, 9, "the rest of the budget: 10 new keys, one spent registering");
  assert.ok(spent <= 10, `the hostile client cost ${spent} RSA operations`);
  for (const answer of refused) {
    assert.equal(answer.code, "ERR_TOO_MANY_NEW_KEYS", answer.text);
    assert.match(answer.text, /reuse|retry/i);
    assert.ok(Number(answer.retryAfter) >= 1, `Retry-After: ${answer.retryAfter}`);
  }

  // Past its budget, the key it uses now (the last one accepted) still works: only new keys
  // are limited.
  const again = await postReport(port, await sealed(hostile, keys[8], seq++));
  assert.equal(again.status, 200, again.text);
  assert.equal((await storedReports(site, hostile.cid)).length, 11);

  // The real client of that computer, made to need a new key, keeps its report queued.
  await Deno.remove(`${hostileDir}/KeyStorage/content-key.json`);
  const held = await clientReport(site, hostileDir, port, ["--encryption", "required"]);
  assert.notEqual(held.code, 0);
  assert.match(held.stderr, /429/);
  assert.equal(await queuedReports(hostileDir), 1, held.stderr);

  // Another client is not affected.
  const goodDir = `${site.root}/good`;
  for (let i = 0; i < 3; i++) {
    const result = await clientReport(site, goodDir, port, ["--encryption", "required"]);
    assert.equal(result.code, 0, result.stderr);
  }
  const good = JSON.parse(await Deno.readTextFile(`${goodDir}/state.json`)).computerId;
  assert.equal((await storedReports(site, good)).length, 3);
  assert.ok((await serverMetrics(server)).rsaPrivateOps - before <= 11);
});

Deno.test("the same garbage wrapped key sent again costs no second RSA operation, and fresh garbage is bounded by the budget", async () => {
  await using site = await createSiteWithKey();
  await using server = await startServer(site, ["--content-key-budget", "4/h"]);
  const port = site.serverPort;
  const hostile = await registeredSender(site, `${site.root}/hostile`, port); // 1 of 4
  const valid = await sealed(hostile, await freshKey(hostile), 1000);
  const garbage = encodeBase64Url(crypto.getRandomValues(new Uint8Array(256)));
  const replayed = await withWrappedKey(valid, garbage, hostile.privateKey);
  const before = (await serverMetrics(server)).rsaPrivateOps;
  for (let i = 0; i < 8; i++) {
    const answer = await postReport(port, replayed);
    assert.equal(answer.status, 400, answer.text);
    assert.equal(answer.code, "ERR_DECRYPTION_FAILED");
  }
  assert.equal((await serverMetrics(server)).rsaPrivateOps - before, 1, "remembered as failed");

  // Fresh garbage each time: each costs budget, so two more, then 429.
  const codes: Array<string | undefined> = [];
  for (let i = 0; i < 6; i++) {
    const fresh = encodeBase64Url(crypto.getRandomValues(new Uint8Array(256)));
    codes.push(
      (await postReport(port, await withWrappedKey(valid, fresh, hostile.privateKey))).code,
    );
  }
  assert.deepEqual(codes, [
    "ERR_DECRYPTION_FAILED",
    "ERR_DECRYPTION_FAILED",
    ...Array(4).fill("ERR_TOO_MANY_NEW_KEYS"),
  ]);
  assert.equal((await serverMetrics(server)).rsaPrivateOps - before, 3);
});

Deno.test("an upload's manifest is the RSA count's one operation; after a restart its chunks are checked before any key work and open with no second unwrap; a manifest past the quota costs none", async () => {
  await using site = await createSiteWithKey();
  await using server = await startServer(site);
  const port = site.serverPort;
  const sender = await registeredSender(site, `${site.root}/client`, port);
  const cs = 1024;
  const plain = crypto.getRandomValues(new Uint8Array(2500));
  const uid = crypto.getRandomValues(new Uint8Array(16)).toHex();
  const manifest = await uploadManifestOf(plain, {
    uid,
    cid: sender.cid,
    name: "file.bin",
    chunkSize: cs,
  });
  const { message, fileKey } = await sealUploadManifest(
    sender.serverPublicKey,
    sender.kid,
    sender.privateKey,
    { cid: sender.cid, uid, cs, cc: 3 },
    encoder.encode(JSON.stringify(manifest)),
  );
  let before = (await serverMetrics(server)).rsaPrivateOps;
  const posted = await send(port, API.uploads, { method: "POST", body: JSON.stringify(message) });
  assert.equal(posted.status, 200, posted.text);
  assert.equal((await serverMetrics(server)).rsaPrivateOps - before, 1, "the manifest's unwrap");

  const chunkKey = await deriveChunkKey(fileKey, uid);
  const chunk = (index: number) =>
    sealChunk(
      chunkKey,
      { cid: sender.cid, uid, index, final: index === 2 },
      plain.slice(index * cs, (index + 1) * cs),
    );
  const put = (index: number, body: Uint8Array<ArrayBuffer>) =>
    send(port, `${API.uploads}/${sender.cid}/${uid}/${index}`, { method: "PUT", body });
  assert.equal((await put(0, await chunk(0))).status, 200);

  // The upload is no longer in memory: bad chunks are refused on the record alone.
  await server.stop();
  await using restarted = await startServer(site);
  const badIndex = await put(7, await chunk(1));
  assert.equal(badIndex.status, 400, badIndex.text);
  assert.equal(badIndex.code, "ERR_CHUNK_INVALID");
  const badLength = await put(1, new Uint8Array(10));
  assert.equal(badLength.status, 400, badLength.text);
  assert.equal(badLength.code, "ERR_CHUNK_INVALID");
  assert.equal((await serverMetrics(restarted)).rsaPrivateOps, 0);
  // Good chunks open with the sealed file key: no second unwrap.
  assert.equal((await put(1, await chunk(1))).status, 200);
  const last = await put(2, await chunk(2));
  assert.equal(last.status, 200, last.text);
  assert.equal(JSON.parse(last.text).state, "complete");
  assert.equal((await serverMetrics(restarted)).rsaPrivateOps, 0, "the file key came back sealed");

  // A manifest that cannot fit the computer's quota is refused before any unwrap.
  await restarted.stop();
  await using withQuota = await startServer(site, ["--upload-quota-per-computer", "4K"]);
  const bigUid = crypto.getRandomValues(new Uint8Array(16)).toHex();
  const big = await sealUploadManifest(
    sender.serverPublicKey,
    sender.kid,
    sender.privateKey,
    { cid: sender.cid, uid: bigUid, cs, cc: 8 },
    encoder.encode(JSON.stringify({ ...manifest, uid: bigUid, size: 8 * cs, chunkCount: 8 })),
  );
  before = (await serverMetrics(withQuota)).rsaPrivateOps;
  const refused = await send(port, API.uploads, {
    method: "POST",
    body: JSON.stringify(big.message),
  });
  assert.equal(refused.status, 413, refused.text);
  assert.equal(refused.code, "ERR_UPLOAD_QUOTA_EXCEEDED");
  assert.equal((await serverMetrics(withQuota)).rsaPrivateOps - before, 0);
});
