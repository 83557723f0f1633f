/**
 * Server keys across roles, with real processes on 127.0.0.1: rotation without loss, the USB
 * transfer to a DSA server and to a decrypting relay, bundles, retiring and disabling.
 */

import assert from "node:assert/strict";
import { reportBytes } from "./report_bytes.ts";
import { createContentKey } from "../envelope/jwe.ts";
import { sealReport, signReport } from "../envelope/report_message.ts";
import { readClientKey } from "../keystore/key_storage.ts";
import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { API } from "../protocol/paths.ts";
import { encodeBundle, entryOfJws, sealBundle } from "../protocol/report_bundle.ts";
import {
  admin,
  adminResult,
  allowRelay,
  clientReport,
  clientStatus,
  computerIdOf,
  copyKeysByUsb,
  createSite,
  createSiteWithKey,
  createSiteWithRelayKey,
  deployKey,
  encryptionStatus,
  freePort,
  generateKey,
  generateKeyForRelays,
  importKeys,
  listComputers,
  postReport,
  QUICK_DECRYPTING_RELAY_ARGS,
  RecordingProxy,
  registerByReport,
  reportDeliveries,
  reportExpectingExit,
  serverMetrics,
  spooledMessages,
  startAllowedRelay,
  startRecordedRelay,
  startRelay,
  startServer,
  storedReports,
  type TestSite,
  waitForCertificate,
  waitForStored,
} from "./deployment.ts";
import { canaryReportArgs, containsCanary, randomCanary, readTree } from "./recording_proxy.ts";
import { describeResult } from "./run_role.ts";
import { eventually } from "./eventually.ts";
import { TamperingProxy } from "./tampering_proxy.ts";

/** Waits until the server at `port` serves a certificate for `kid` (it reloads every 2 s). */

/** A report's JSON, as a client with level required makes it. */

function fingerprintOf(text: string): string {
  const match = /SHA256:[0-9a-f ]{79}/.exec(text);
  assert.ok(match, `no fingerprint in: ${text}`);
  return match[0];
}

Deno.test("rotation: reports encrypted to the old key in a stopped relay's spool, and an offline client's queue, are each stored once; retire is refused, then forced", async () => {
  await using site = await createSite();
  const kid1 = await generateKey(site, true);
  await using server = await startServer(site);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  await using relay = await startRelay(relayDir, relayPort, site.serverPort);
  // The restarted relay's parent: the server's answers to its deliveries, on the wire.
  await using upstream = new TamperingProxy(site.serverPort);
  const viaRelay = `${site.root}/client-relay`;
  const offline = `${site.root}/client-offline`;
  const deadPort = freePort();
  for (const dir of [viaRelay, offline]) {
    const first = await clientReport(site, dir, relayPort, ["--encryption", "required"]);
    assert.equal(first.code, 0, first.stderr);
  }
  const relayId = await computerIdOf(viaRelay);
  const offlineId = await computerIdOf(offline);
  await waitForStored(site, relayId, 1);
  await waitForStored(site, offlineId, 1);

  // The server goes down: the relay keeps accepting, encrypted to the key clients hold (kid1).
  await server.stop();
  for (let i = 0; i < 3; i++) {
    const held = await clientReport(site, viaRelay, relayPort, ["--encryption", "required"]);
    assert.equal(held.code, 0, held.stderr);
  }
  const spooled = await spooledMessages(relayDir);
  assert.equal(spooled.length, 3);
  for (const bytes of spooled) {
    const message = JSON.parse(new TextDecoder().decode(bytes));
    const header = JSON.parse(new TextDecoder().decode(
      Uint8Array.fromBase64(message.protected, { alphabet: "base64url" }),
    ));
    assert.equal(header.kid, kid1, "spooled reports are encrypted to the old key");
  }
  await relay.stop();
  // The other client is offline: its parent does not answer, so its report stays queued.
  await reportExpectingExit(4, site, offline, deadPort, ["--encryption", "required"]);
  assert.equal((await clientStatus(offline)).queueDepth, 1);

  // Rotation while the server is down: generate (Pending rotation), then deploy.
  const kid2 = await generateKey(site, false);
  const rotating = await encryptionStatus(site);
  assert.equal(rotating.state, "Pending rotation");
  await deployKey(site);

  await using restartedServer = await startServer(site);
  await using _restartedRelay = await startRelay(relayDir, relayPort, upstream.port);
  await waitForStored(site, relayId, 4);
  const back = await clientReport(site, offline, relayPort, ["--encryption", "required"]);
  assert.equal(back.code, 0, back.stderr);
  await waitForStored(site, offlineId, 3);
  await eventually(
    async () => (await spooledMessages(relayDir)).length === 0 ? true : undefined,
    "the relay's spool emptied",
  );
  // What the server answered the relay after the rotation: each report stored once, and no
  // resend of one it already had (it would have answered 409 ERR_DUPLICATE_REPORT).
  const deliveries = reportDeliveries(upstream);
  assert.deepEqual(
    deliveries.stored.sort(),
    [
      ...[2, 3, 4].map((seq) => `${relayId}:${seq}`),
      ...[2, 3].map((seq) => `${offlineId}:${seq}`),
    ]
      .sort(),
  );
  assert.deepEqual(deliveries.duplicates, [], "the relay resent reports the server had stored");
  assert.deepEqual(deliveries.other, []);

  const relayed = await storedReports(site, relayId);
  assert.deepEqual(relayed.map((r) => r.seq), [1, 2, 3, 4]);
  assert.ok(relayed.every((r) => r.encrypted && r.kid === kid1));
  const late = await storedReports(site, offlineId);
  assert.deepEqual(late.map((r) => r.seq), [1, 2, 3]);
  assert.deepEqual(late.map((r) => r.kid), [kid1, kid2, kid2]);
  assert.equal((await clientStatus(offline)).certificateKid, kid2);

  const status = await encryptionStatus(site);
  assert.equal(status.state, "Enabled");
  const byKid = Object.fromEntries(
    status.keys.map((k: { kid: string; role: string; clients: number }) => [k.kid, k]),
  );
  assert.equal(byKid[kid1].role, "previous");
  assert.equal(byKid[kid1].clients, 1, "the relayed client last reported with the old key");
  assert.equal(byKid[kid2].role, "current");
  assert.equal(byKid[kid2].clients, 1);

  // Retiring the old key is refused while clients used it lately; --force retires it.
  const siteArgs = ["--site-key", site.siteKey, "--data-dir", site.serverDir];
  const current = await adminResult(["encryption", "retire", kid2, ...siteArgs]);
  assert.equal(current.code, 1, describeResult(current));
  assert.match(current.stderr, /it is the current key/);
  const refused = await adminResult(["encryption", "retire", kid1.slice(0, 8), ...siteArgs]);
  assert.equal(refused.code, 1, describeResult(refused));
  assert.match(refused.stderr, new RegExp(`computer ${relayId}: 4 report\\(s\\)`));
  assert.match(refused.stderr, /hint: .*--force/);
  const forced = await adminResult(["encryption", "retire", kid1, "--force", ...siteArgs]);
  assert.equal(forced.code, 0, describeResult(forced));
  assert.match(forced.stderr, /warning: retired although 2 computer\(s\)/);
  await eventually(
    async () => (await serverMetrics(restartedServer)).keysLoaded === 1 ? true : undefined,
    "the server to unload the retired key",
  );
});

Deno.test("export/import: a DSA server with its own data dir decrypts and stores the same clients' reports", async () => {
  const site = await createSite();
  const kid = await generateKey(site, true);
  const server = await startServer(site);
  const usb = `${site.root}/usb`;
  const dsa: TestSite = { ...site, serverDir: `${site.root}/dsa`, serverPort: freePort() };
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  const clientDir = `${site.root}/client`;
  try {
    const computerId = await registerByReport(site, clientDir, site.serverPort, [
      "--encryption",
      "required",
    ]);
    await waitForStored(site, computerId, 1);

    const exported = await adminResult([
      "encryption",
      "export",
      "--to",
      usb,
      "--data-dir",
      site.serverDir,
    ]);
    assert.equal(exported.code, 0, describeResult(exported));
    const fingerprint = fingerprintOf(exported.stdout);
    const file = `${usb}/${kid}.mle-key.json`;
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(file);
    assert.ok(!text.includes("PRIVATE KEY"), "the private key is sealed, never in clear");

    // A wrong password installs nothing; an altered file is refused the same way.
    const wrong = await importKeys(usb, dsa.serverDir, ["--server"], {
      MLE_TRANSFER_PASSWORD: "not the transfer password",
    });
    assert.equal(wrong.code, 1, describeResult(wrong));
    assert.match(wrong.stderr, /wrong transfer password, or the file was altered/);
    await assert.rejects(Deno.stat(dsa.serverDir), Deno.errors.NotFound);
    const altered = JSON.parse(text);
    altered.sealed.publicData = altered.sealed.publicData.replace('"current"', '"previous"');
    const alteredDir = `${site.root}/usb-altered`;
    await Deno.mkdir(alteredDir);
    await Deno.writeTextFile(`${alteredDir}/${kid}.mle-key.json`, JSON.stringify(altered));
    const tampered = await importKeys(alteredDir, dsa.serverDir, ["--server"]);
    assert.equal(tampered.code, 1, describeResult(tampered));
    assert.match(tampered.stderr, /the file was altered/);

    const imported = await importKeys(usb, dsa.serverDir, [
      "--server",
      "--deploy",
      "--site-key",
      site.siteKey,
    ]);
    assert.equal(imported.code, 0, describeResult(imported));
    assert.equal(fingerprintOf(imported.stdout), fingerprint);
    assert.equal(
      (await Deno.stat(`${dsa.serverDir}/Encryption Keys/${kid}.pvk`)).mode! & 0o777,
      0o600,
    );
    const dsaStatus = await encryptionStatus(dsa);
    assert.equal(dsaStatus.currentKid, kid);

    second = await startServer(dsa);
    await waitForCertificate(site, dsa.serverPort, kid);
    const canary = randomCanary("dsa");
    const proxy = new RecordingProxy(dsa.serverPort);
    try {
      const moved = await clientReport(site, clientDir, proxy.port, canaryReportArgs(canary));
      assert.equal(moved.code, 0, moved.stderr);
      assert.ok(!containsCanary(proxy.text, canary), "canary on the wire to the DSA server");
    } finally {
      await proxy.close();
    }
    const newId = await computerIdOf(clientDir);
    const stored = await waitForStored(dsa, newId, 1);
    assert.ok(stored.every((r) => r.encrypted && r.kid === kid));
    assert.ok(stored.some((r) => r.report.custom.Secret === canary));
    assert.ok((await serverMetrics(second)).rsaPrivateOps >= 1, "the DSA server decrypted");
  } finally {
    await second?.stop();
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
});

Deno.test("a decrypting relay set up in the seed's order sends bundles: client signatures checked, a tampered report refused, no clear text on its disk or the wire", async () => {
  await using site = await createSite();
  // The seed's order: generate with -deploynow=no, copy the key to the relay, start it, deploy.
  const kid = await generateKey(site, false);
  const relayDir = `${site.root}/relay`;
  const { exported, imported } = await copyKeysByUsb(site, relayDir);
  assert.equal(fingerprintOf(imported.stdout), fingerprintOf(exported.stdout));

  await using server = await startServer(site);
  await using recorded = await startRecordedRelay(relayDir, site.serverPort, [
    "--decrypt",
    "--bundle-max",
    "4",
    "--bundle-wait-ms",
    "300",
  ]);
  const { relay, relayPort, upstream, downstream } = recorded;
  const capabilities = await (await fetch(`http://127.0.0.1:${relayPort}${API.capabilities}`))
    .json();
  assert.equal(capabilities.decrypting, true);
  const relayId = await allowRelay(site, relay);
  await deployKey(site);
  await waitForCertificate(site, site.serverPort, kid);

  const canaries: string[] = [];
  const clients: string[] = [];
  for (let c = 0; c < 3; c++) {
    const dir = `${site.root}/client-${c}`;
    clients.push(dir);
    for (let r = 0; r < 2; r++) {
      const canary = randomCanary(`bundle-${c}-${r}`);
      canaries.push(canary);
      const result = await clientReport(site, dir, downstream.port, canaryReportArgs(canary));
      assert.equal(result.code, 0, result.stderr);
    }
  }
  for (const dir of clients) {
    const stored = await waitForStored(site, await computerIdOf(dir), 2);
    assert.ok(stored.every((r) => r.encrypted && r.kid === kid));
  }
  const counted = await eventually(async () => {
    const m = await serverMetrics(server);
    return m.reportsInBundles >= 6 ? m : undefined;
  }, "6 reports in bundles");
  assert.equal(counted.reportsInBundles, 6);
  assert.ok(counted.bundlesOpened >= 2 && counted.bundlesOpened <= 6, JSON.stringify(counted));
  assert.equal(counted.bundleReportsRefused, 0);
  assert.ok(upstream.text.includes(`POST ${API.bundles}`));
  assert.ok(!upstream.text.includes(`POST ${API.reports}`), "a report went up unbundled");
  const relayDisk = await readTree(relayDir);
  for (const canary of canaries) {
    assert.ok(!containsCanary(downstream.text, canary), "canary on the client → relay wire");
    assert.ok(!containsCanary(upstream.text, canary), "canary on the relay → server wire");
    assert.ok(!containsCanary(relayDisk, canary), "canary in the relay's folders");
  }
  // The relay lets a bundle go once it has read the server's answer, a moment after the count.
  await eventually(
    async () => (await spooledMessages(relayDir)).length === 0 || undefined,
    "the spool to be empty once the server answered",
  );

  // A relay that alters a report (here: a bundle made with the relay's own key) cannot get it
  // stored: the client's own signature inside is checked, and the others are still stored.
  const relayKey = await readClientKey(`${relayDir}/KeyStorage/client.pvk`);
  const clientKey = await readClientKey(`${clients[0]}/KeyStorage/client.pvk`);
  const cid = await computerIdOf(clients[0]);
  const report = (seq: number, secret: string) => reportBytes(cid, seq, { Secret: secret });
  const genuine = entryOfJws(
    await signReport(clientKey.privateKey, { cid, seq: 1000, kid }, report(1000, "genuine")),
  );
  const altered = entryOfJws(
    await signReport(clientKey.privateKey, { cid, seq: 1001, kid }, report(1001, "genuine")),
  );
  altered.payload = report(1001, "altered by the relay");
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)));
  const certificate = await (await fetch(
    `http://127.0.0.1:${site.serverPort}${API.encryptionCertificate}`,
  )).json();
  const { publicKey } = await verifyEncryptionCertificate(siteKey, certificate);
  const { contentKey } = await createContentKey(publicKey!, kid);
  const bundle = await sealBundle(
    contentKey,
    relayKey.privateKey,
    { cid: relayId, bid: crypto.randomUUID(), n: 2 },
    await encodeBundle([genuine, altered]),
  );
  const answer = await fetch(`http://127.0.0.1:${site.serverPort}${API.bundles}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(bundle),
  });
  assert.equal(answer.status, 200);
  const { results } = await answer.json();
  assert.deepEqual(results.map((r: { status: string; code?: string }) => [r.status, r.code]), [
    ["stored", undefined],
    ["refused", "ERR_SIGNATURE_INVALID"],
  ]);
  const seqs = (await storedReports(site, cid)).map((r) => r.seq);
  assert.ok(seqs.includes(1000) && !seqs.includes(1001));

  // A plain client cannot send bundles: the same bundle signed by a client's key is refused.
  const asClient = await sealBundle(
    contentKey,
    clientKey.privateKey,
    { cid, bid: crypto.randomUUID(), n: 1 },
    await encodeBundle([genuine]),
  );
  const refused = await fetch(`http://127.0.0.1:${site.serverPort}${API.bundles}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(asClient),
  });
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.code, "ERR_RELAY_NOT_ALLOWED");
});

Deno.test("a key the site retires stops decrypting at decrypting relays too: the signed revocation list names it, and its reports go on untouched", async () => {
  await using site = await createSiteWithRelayKey();
  const { relayDir, kid: kidA } = site;
  await using server = await startServer(site);
  const relayPort = freePort();
  await using relay = await startAllowedRelay(
    site,
    relayDir,
    relayPort,
    site.serverPort,
    QUICK_DECRYPTING_RELAY_ARGS,
  );
  const siteArgs = ["--site-key", site.siteKey, "--data-dir", site.serverDir];
  await deployKey(site);
  await waitForCertificate(site, site.serverPort, kidA);
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)));
  const { publicKey: publicKeyA } = await verifyEncryptionCertificate(
    siteKey,
    await (await fetch(`http://127.0.0.1:${site.serverPort}${API.encryptionCertificate}`))
      .json(),
  );

  const clientDir = `${site.root}/client`;
  const cid = await registerByReport(site, clientDir, relayPort, ["--encryption", "required"]);
  const clientKey = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);
  /** A report of this client sealed to key A, posted to the relay as a client would. */
  const sendToA = async (seq: number) => {
    const { contentKey } = await createContentKey(publicKeyA!, kidA);
    const message = await sealReport(
      contentKey,
      clientKey.privateKey,
      { cid, seq },
      reportBytes(cid, seq),
    );
    const answer = await postReport(relayPort, JSON.stringify(message));
    const said = await answer.text();
    assert.equal(answer.status, 202, said);
  };

  // Key B becomes current (imported at the relay first, as deploy asks); A, now previous,
  // still decrypts at the relay (bundled).
  const kidB = await generateKeyForRelays(site, [relayDir]);
  await deployKey(site);
  await waitForCertificate(site, site.serverPort, kidB);
  await sendToA(1000);
  const stored = await waitForStored(site, cid, 2);
  assert.ok(stored.some((r) => r.seq === 1000 && r.kid === kidA));
  const bundledBefore = (await serverMetrics(server)).reportsInBundles;
  assert.ok(bundledBefore >= 2, `bundled: ${bundledBefore}`);

  // Retired: the server publishes the signed list naming A; the relay adopts it.
  const retired = await adminResult(["encryption", "retire", kidA, "--force", ...siteArgs]);
  assert.equal(retired.code, 0, describeResult(retired));
  assert.match(retired.stdout, /decrypting relays within their revocation interval/);
  await relay.waitFor(/revocation list updated [^\n]*retiredKeys=1/);
  await eventually(
    async () => (await serverMetrics(server)).keysLoaded === 1 ? true : undefined,
    "the server to unload the retired key",
  );

  // A report still sealed to A: the relay does not open it, it goes on untouched, and the
  // server, which no longer loads A either, refuses it (kept in the relay's rejected/).
  await sendToA(1001);
  await relay.waitFor(new RegExp(`the site retired this key[^\\n]*${kidA}`));
  const reasons = await eventually(async () => {
    const names = (await Array.fromAsync(Deno.readDir(`${relayDir}/rejected`)))
      .map((entry) => entry.name)
      .filter((name) => name.endsWith(".reason"));
    return names.length > 0 ? names : undefined;
  }, "the refused report in the relay's rejected/ folder");
  assert.equal(reasons.length, 1);
  assert.match(
    await Deno.readTextFile(`${relayDir}/rejected/${reasons[0]}`),
    /ERR_UNKNOWN_KEY_ID/,
  );
  assert.ok(!(await storedReports(site, cid)).some((r) => r.seq === 1001));
  assert.equal((await serverMetrics(server)).reportsInBundles, bundledBefore);
});

Deno.test("disable is refused while a client requires encryption, then forced: the client is shown orphaned", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site);
  const required = `${site.root}/client-required`;
  const optional = `${site.root}/client-optional`;
  const requiredId = await registerByReport(site, required, site.serverPort, [
    "--encryption",
    "required",
  ]);
  const optionalId = await registerByReport(site, optional, site.serverPort, [
    "--encryption",
    "optional",
  ]);
  await waitForStored(site, requiredId, 1);
  await waitForStored(site, optionalId, 1);

  const siteArgs = ["--site-key", site.siteKey, "--data-dir", site.serverDir];
  const refused = await adminResult(["encryption", "disable", ...siteArgs]);
  assert.equal(refused.code, 1, describeResult(refused));
  assert.match(refused.stderr, /Cannot disable encryption: 1 computer\(s\) require it/);
  assert.match(refused.stderr, new RegExp(`computer ${requiredId} `));
  assert.doesNotMatch(refused.stderr, new RegExp(`computer ${optionalId} `));
  assert.equal((await encryptionStatus(site)).state, "Enabled");

  const forced = await adminResult(["encryption", "disable", "--force", ...siteArgs]);
  assert.equal(forced.code, 0, describeResult(forced));
  assert.match(forced.stderr, /now orphaned/);
  await waitForCertificate(site, site.serverPort, null);

  const held = await clientReport(site, required, site.serverPort, ["--encryption", "required"]);
  assert.equal(held.code, 3, held.stderr);
  const clear = await clientReport(site, optional, site.serverPort, ["--encryption", "optional"]);
  assert.equal(clear.code, 0, clear.stderr);
  const optionalReports = await waitForStored(site, optionalId, 2);
  assert.equal(optionalReports[1].encrypted, false);

  const status = await encryptionStatus(site);
  assert.equal(status.state, "Disabled");
  assert.equal(typeof status.disabledAt, "number");
  assert.deepEqual(status.orphaned.map((o: { id: number }) => o.id), [requiredId]);
  const human = await admin(["encryption", "status", "--data-dir", site.serverDir]);
  assert.match(human.stdout, /Orphaned: 1 computer\(s\)/);
  const listed = await listComputers(site);
  assert.deepEqual(
    listed.map((c) => [c.id, c.orphaned]),
    [[requiredId, true], [optionalId, false]],
  );
  const table = await admin(["computers", "list", "--data-dir", site.serverDir]);
  assert.match(table.stdout, new RegExp(`computer ${requiredId}: orphaned`));
});
