/**
 * Bad input at the server and the relay, as real processes: every refusal is a 4xx JSON error,
 * decryption failures are indistinguishable, an unknown key id costs no RSA operation, and the
 * process keeps serving.
 */

import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import {
  encryptionKeyId,
  generateEncryptionKeyPair,
  importEncryptionPublicKey,
} from "../envelope/encryption_key.ts";
import { createContentKey } from "../envelope/jwe.ts";
import { type EncryptedMessage, sealReport } from "../envelope/report_message.ts";
import { signBytes } from "../envelope/signature.ts";
import { readClientKey } from "../keystore/key_storage.ts";
import { API } from "../protocol/paths.ts";
import {
  clientReport,
  clientStatus,
  createSiteWithKey,
  serverMetrics,
  startRelayedSite,
  startServer,
  storedReports,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";

const encoder = new TextEncoder();

async function post(port: number, body: BodyInit, headers: Record<string, string> = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${API.reports}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  const text = await response.text();
  let json: { error?: { code: string; message: string } } = {};
  try {
    json = JSON.parse(text);
  } catch {
    // asserted below
  }
  return { status: response.status, json, text };
}

function report(cid: number, seq: number): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify({
    computerId: cid,
    seq,
    createdAt: new Date().toISOString(),
    properties: {},
    custom: { Test: "bad-input" },
    relevance: [],
    actionStatuses: [],
    analyses: [],
  }));
}

/** Re-signs the outer signature after tampering, as a registered but malicious client could. */
async function resign(message: EncryptedMessage, privateKey: CryptoKey): Promise<EncryptedMessage> {
  const compact =
    `${message.protected}.${message.encrypted_key}.${message.iv}.${message.ciphertext}.${message.tag}`;
  return { ...message, sig: encodeBase64Url(await signBytes(privateKey, encoder.encode(compact))) };
}

function flip(text: string, index = 10): string {
  const c = text[index] === "A" ? "B" : "A";
  return text.slice(0, index) + c + text.slice(index + 1);
}

Deno.test("the server refuses malformed, truncated, oversized, tampered, replayed and unknown-key envelopes with 4xx JSON and keeps serving", async () => {
  await using site = await createSiteWithKey();
  await using server = await startServer(site);
  const port = site.serverPort;
  const clientDir = `${site.root}/client`;
  const registered = await clientReport(site, clientDir, port, ["--encryption", "required"]);
  assert.equal(registered.code, 0, registered.stderr);
  const status = await clientStatus(clientDir);
  const cid = status.computerId as number;
  const kid = status.certificateKid as string;
  const client = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);
  const certificate = JSON.parse(
    await (await fetch(`http://127.0.0.1:${port}${API.encryptionCertificate}`)).text(),
  );
  const spki = JSON.parse(
    new TextDecoder().decode(
      Uint8Array.fromBase64(certificate.payload, { alphabet: "base64url" }),
    ),
  ).spki;
  const serverKey = await importEncryptionPublicKey(
    Uint8Array.fromBase64(spki, { alphabet: "base64url" }),
  );
  const { contentKey } = await createContentKey(serverKey, kid);
  /** A report of computer `reportCid` numbered `seq`, signed by the client and sealed to `key`. */
  const sealedReport = (key: typeof contentKey, reportCid: number, seq: number) =>
    sealReport(key, client.privateKey, { cid: reportCid, seq }, report(reportCid, seq));
  const valid = await sealedReport(contentKey, cid, 1000);

  // Malformed and truncated.
  let answer = await post(port, "this is not json");
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error?.code, "ERR_ENVELOPE_MALFORMED");
  const text = JSON.stringify(valid);
  answer = await post(port, text.slice(0, text.length / 2));
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error?.code, "ERR_ENVELOPE_MALFORMED");
  answer = await post(port, JSON.stringify({ ...valid, ciphertext: undefined }));
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error?.code, "ERR_ENVELOPE_MALFORMED");

  // Oversized, with and without a Content-Length (a chunked body is counted as it arrives).
  const big = new Uint8Array(2 * 1024 * 1024).fill(0x61);
  answer = await post(port, big);
  assert.equal(answer.status, 413);
  assert.equal(answer.json.error?.code, "ERR_TOO_LARGE");
  answer = await post(port, new Blob([big]).stream());
  assert.equal(answer.status, 413);
  assert.equal(answer.json.error?.code, "ERR_TOO_LARGE");

  // Tampered without re-signing: the sender's signature fails first.
  answer = await post(port, JSON.stringify({ ...valid, ciphertext: flip(valid.ciphertext) }));
  assert.equal(answer.status, 403);
  assert.equal(answer.json.error?.code, "ERR_SIGNATURE_INVALID");

  // Tampered and re-signed by the client itself: one opaque decryption error for every part.
  const opaque = [];
  for (const part of ["ciphertext", "tag", "iv", "encrypted_key"] as const) {
    const tampered = await resign({ ...valid, [part]: flip(valid[part], 5) }, client.privateKey);
    const refused = await post(port, JSON.stringify(tampered));
    assert.equal(refused.status, 400, `${part}: ${refused.text}`);
    opaque.push(refused.text);
  }
  assert.equal(new Set(opaque).size, 1, `decryption failures differ: ${opaque.join(" | ")}`);
  assert.equal(JSON.parse(opaque[0]).error.code, "ERR_DECRYPTION_FAILED");

  // Another client's key signing for this computer id.
  const stranger = await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  answer = await post(port, JSON.stringify(await resign(valid, stranger.privateKey)));
  assert.equal(answer.status, 403);
  assert.equal(answer.json.error?.code, "ERR_SIGNATURE_INVALID");

  // Unknown key id: refused before any RSA operation.
  const before = (await serverMetrics(server)).rsaPrivateOps;
  const otherPair = await generateEncryptionKeyPair(2048);
  const other = await createContentKey(
    otherPair.publicKey,
    await encryptionKeyId(otherPair.publicKey),
  );
  const unknown = await sealedReport(other.contentKey, cid, 1001);
  answer = await post(port, JSON.stringify(unknown));
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error?.code, "ERR_UNKNOWN_KEY_ID");
  assert.equal((await serverMetrics(server)).rsaPrivateOps, before);

  // Unknown computer.
  const ghost = await sealedReport(contentKey, cid + 999, 1);
  answer = await post(port, JSON.stringify(ghost));
  assert.equal(answer.status, 403);
  assert.equal(answer.json.error?.code, "ERR_UNKNOWN_COMPUTER");

  // The valid one is stored once; replaying it is recognised, not stored twice.
  answer = await post(port, text);
  assert.equal(answer.status, 200, answer.text);
  answer = await post(port, text);
  assert.equal(answer.status, 409);
  assert.equal(answer.json.error?.code, "ERR_DUPLICATE_REPORT");
  // The same sequence number with other content is a conflict.
  const conflicting = await sealedReport(contentKey, cid, 1000);
  answer = await post(port, JSON.stringify(conflicting));
  assert.equal(answer.status, 409);
  assert.equal(answer.json.error?.code, "ERR_REPORT_CONFLICT");

  // Still serving.
  const after = await clientReport(site, clientDir, port, ["--encryption", "required"]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal((await serverMetrics(server)).reportsStored, 3);
});

Deno.test("the relay refuses malformed and oversized messages with 4xx JSON and keeps serving", async () => {
  await using deployment = await startRelayedSite({ withKey: true });
  const { site, relayPort } = deployment;
  let answer = await post(relayPort, "{not json");
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error?.code, "ERR_ENVELOPE_MALFORMED");
  answer = await post(relayPort, JSON.stringify({ protected: "x" }));
  assert.equal(answer.status, 400);
  answer = await post(relayPort, new Blob([new Uint8Array(2 * 1024 * 1024)]).stream());
  assert.equal(answer.status, 413);
  assert.equal(answer.json.error?.code, "ERR_TOO_LARGE");
  const ok = await clientReport(site, `${site.root}/client`, relayPort, [
    "--encryption",
    "required",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  // Still serving: the good report crosses the relay and is stored.
  const computerId = (await clientStatus(`${site.root}/client`)).computerId as number;
  await eventually(
    async () => (await storedReports(site, computerId)).length === 1 ? true : undefined,
    "the report to reach the server through the relay",
  );
});
