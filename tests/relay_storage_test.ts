/**
 * Bounded relay storage, with real processes on 127.0.0.1: a relay's spool has a maximum size and
 * a per-computer share (503 with `Retry-After` beyond them, nothing accepted lost), its rejected
 * folder expires, and what it knows of a sender's key keeps forgeries out of its spool.
 */

import assert from "node:assert/strict";
import { signReport } from "../envelope/report_message.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signUploadManifest } from "../envelope/upload_manifest.ts";
import { API } from "../protocol/paths.ts";
import { chunkOverhead, MIN_CHUNK_SIZE } from "../protocol/upload.ts";
import {
  clientReport,
  clientSiteArgs,
  clientStatus,
  copyKeysByUsb,
  createSite,
  createSiteWithKey,
  freePort,
  postReport,
  registerByReport,
  registerSender,
  serverMetrics,
  spooledMessages,
  startAllowedRelay,
  startRelay,
  startRelayedSite,
  startServer,
  storedReports,
  type TestSender,
  waitForStored,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { runRole } from "./run_role.ts";

Deno.test("a flooded relay answers 503 with Retry-After past a computer's share and past its maximum size, the client keeps its report queued, and nothing accepted is lost", async () => {
  await using deployment = await startRelayedSite({
    relayArgs: ["--spool-max-size", "64K", "--spool-max-size-per-computer", "16K"],
  });
  const { site, server, relayPort, relayDir } = deployment;
  const clientDir = `${site.root}/client`;
  const clientId = await registerByReport(site, clientDir, relayPort);
  const senders: TestSender[] = [];
  for (let i = 0; i < 6; i++) senders.push(await registerSender(site.serverPort));
  await server.stop();

  // Each sender floods the relay with 4 KiB reports until it is told to wait.
  const accepted = new Map<number, number[]>();
  let spoolFull = false;
  for (const sender of senders) {
    const seqs: number[] = [];
    accepted.set(sender.computerId, seqs);
    for (let seq = 1;; seq++) {
      const response = await postReport(relayPort, await sender.report(seq, 4096));
      const body = await response.json();
      if (response.status === 202) {
        seqs.push(seq);
        continue;
      }
      assert.equal(response.status, 503, JSON.stringify(body));
      assert.equal(body.error.code, "ERR_SPOOL_FULL");
      assert.match(response.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
      spoolFull = /spool is full/.test(body.error.message);
      if (!spoolFull) assert.match(body.error.message, /this computer's reports fill its share/);
      break;
    }
    assert.ok(seqs.length >= 1 && seqs.length <= 4, `a share of 16K took ${seqs.length}`);
    if (spoolFull) break;
  }
  assert.ok(spoolFull, "the spool of 64K filled up");

  // The real client is told to wait too, and keeps its report.
  const held = await clientReport(site, clientDir, relayPort);
  assert.notEqual(held.code, 0, held.stderr);
  assert.match(held.stderr, /503/);
  assert.equal((await clientStatus(clientDir)).queueDepth, 1);

  await using _restarted = await startServer(site);
  for (const [computerId, seqs] of accepted) {
    if (seqs.length === 0) continue;
    const stored = await waitForStored(site, computerId, seqs.length);
    assert.deepEqual(stored.map((report) => report.seq), seqs);
  }
  await eventually(
    async () => (await spooledMessages(relayDir)).length === 0 ? true : undefined,
    "the relay's spool to drain",
  );
  assert.deepEqual(await Array.fromAsync(Deno.readDir(`${relayDir}/rejected`)), []);

  const later = await clientReport(site, clientDir, relayPort);
  assert.equal(later.code, 0, later.stderr);
  await waitForStored(site, clientId, 3);
  assert.deepEqual((await storedReports(site, clientId)).map((report) => report.seq), [1, 2, 3]);
});

Deno.test("a relay deletes what its parent refused for good once it is older than --rejected-max-age, and keeps delivering", async () => {
  await using deployment = await startRelayedSite({ relayArgs: ["--rejected-max-age", "2s"] });
  const { site, relayPort, relayDir } = deployment;
  const sender = await registerSender(site.serverPort);
  // The sender's report with another key's signature: a plain relay cannot tell, the server
  // refuses it for good.
  const impostor = await registerSender(site.serverPort);
  const forged = {
    ...JSON.parse(await sender.report(1)),
    signature: JSON.parse(await impostor.report(1)).signature,
  };
  const refused = await postReport(relayPort, JSON.stringify(forged));
  assert.equal(refused.status, 202, await refused.clone().text());
  await refused.body?.cancel();
  const rejected = await eventually(async () => {
    const names = (await Array.fromAsync(Deno.readDir(`${relayDir}/rejected`)))
      .map((entry) => entry.name);
    return names.length === 2 ? names.sort() : undefined;
  }, "the refused report in rejected/ with its reason");
  assert.match(rejected[0], /\.json$/);
  assert.match(rejected[1], /\.reason$/);
  await eventually(
    async () =>
      (await Array.fromAsync(Deno.readDir(`${relayDir}/rejected`))).length === 0 ? true : undefined,
    "the rejected report to expire",
  );
  const fine = await postReport(relayPort, await sender.report(2));
  assert.equal(fine.status, 202);
  await fine.body?.cancel();
  await waitForStored(site, sender.computerId, 1);
});

Deno.test("an authenticating relay refuses an upload manifest forged for a client it admitted, and chunks for an upload it never admitted, and buffers nothing", async () => {
  await using site = await createSite();
  await using server = await startServer(site);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  const password = "relay shared password, long enough to resist guessing";
  await using _relay = await startRelay(
    relayDir,
    relayPort,
    site.serverPort,
    ["--authenticating"],
    {
      env: { MLE_RELAY_SHARED_PASSWORD: password },
    },
  );
  const clientDir = `${site.root}/client`;
  const registered = await runRole("client", [
    "register",
    ...clientSiteArgs(site, clientDir),
    relayUrl,
  ], { env: { MLE_RELAY_PASSWORD: password } });
  assert.equal(registered.code, 0, registered.stderr);
  const admitted = Number(registered.stdout.trim());
  // The server away: what the relay takes now, it alone decided to take.
  await server.stop();

  const attacker = await generateSigningKeyPair();
  const uid = crypto.getRandomValues(new Uint8Array(16)).toHex();
  const claims = { cid: admitted, uid, cs: MIN_CHUNK_SIZE, cc: 1 };
  const manifest = await signUploadManifest(
    attacker.privateKey,
    claims,
    new TextEncoder().encode(JSON.stringify({ name: "forged.bin", size: 10 })),
  );
  const posted = await fetch(`${relayUrl}${API.uploads}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(manifest),
  });
  const refusal = await posted.json();
  assert.equal(posted.status, 403, JSON.stringify(refusal));
  assert.equal(refusal.error.code, "ERR_SIGNATURE_INVALID");

  for (const target of [uid, crypto.getRandomValues(new Uint8Array(16)).toHex()]) {
    const chunk = await fetch(`${relayUrl}${API.uploads}/${admitted}/${target}/0`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array(chunkOverhead(false) + 10),
    });
    const answer = await chunk.json();
    assert.equal(chunk.status, 404, JSON.stringify(answer));
    assert.equal(answer.error.code, "ERR_UNKNOWN_UPLOAD");
  }
  assert.deepEqual(await Array.fromAsync(Deno.readDir(`${relayDir}/uploads`)), []);
  await using _restarted = await startServer(site);
});

Deno.test("a decrypting relay that knows a client's key refuses a report forged in its name with 403 and spools nothing", async () => {
  await using site = await createSiteWithKey();
  const relayDir = `${site.root}/relay`;
  await copyKeysByUsb(site, relayDir);
  await using server = await startServer(site);
  const relayPort = freePort();
  await using _relay = await startAllowedRelay(site, relayDir, relayPort, site.serverPort, [
    "--decrypt",
    "--bundle-wait-ms",
    "100",
  ]);
  // A genuine report goes up in a bundle: the relay asked the server for the client's key.
  const clientDir = `${site.root}/client`;
  const clientId = await registerByReport(site, clientDir, relayPort, ["--encryption", "required"]);
  await waitForStored(site, clientId, 1);
  await eventually(
    async () => (await serverMetrics(server)).reportsInBundles >= 1 ? true : undefined,
    "the genuine report to go up in a bundle",
  );
  // The relay lets its bundle go once it has read the server's answer, a moment after the count.
  await eventually(
    async () => (await spooledMessages(relayDir)).length === 0 || undefined,
    "the relay's spool to be empty after the genuine report",
  );

  const attacker = await generateSigningKeyPair();
  const report = new TextEncoder().encode(JSON.stringify({ computerId: clientId, seq: 50 }));
  const forged = await signReport(
    attacker.privateKey,
    { cid: clientId, seq: 50, kid: null },
    report,
  );
  const refused = await postReport(relayPort, JSON.stringify(forged));
  const body = await refused.json();
  assert.equal(refused.status, 403, JSON.stringify(body));
  assert.equal(body.error.code, "ERR_SIGNATURE_INVALID");
  assert.deepEqual(await spooledMessages(relayDir), []);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(`${relayDir}/rejected`)), []);

  const second = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual((await waitForStored(site, clientId, 2)).map((stored) => stored.seq), [1, 2]);
});
