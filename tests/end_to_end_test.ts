/**
 * The whole path, with real processes on 127.0.0.1: client → relay → server, for each encryption
 * level, with the bytes on both wires recorded by proxies.
 */

import assert from "node:assert/strict";
import {
  clientConnectionArgs,
  clientReport,
  clientStatus,
  computerIdOf,
  createSite,
  createSiteWithKey,
  deployKey,
  generateKey,
  postReport,
  PRE_MLE_RELAY_ARGS,
  RecordingProxy,
  registerByReport,
  reportDeliveries,
  reportExpectingExit,
  setSettings,
  spooledMessages,
  startRecordedRelay,
  startRelay,
  startRelayedSite,
  startServer,
  storedReports,
  waitForStored,
} from "./deployment.ts";
import { canaryReportArgs, containsCanary, randomCanary, readTree } from "./recording_proxy.ts";
import { reportBytes } from "./report_bytes.ts";
import { RoleProcess, runRole } from "./run_role.ts";
import { TamperingProxy } from "./tampering_proxy.ts";
import { API } from "../protocol/paths.ts";
import { eventually } from "./eventually.ts";
import { signReport } from "../envelope/report_message.ts";
import { readClientKey } from "../keystore/key_storage.ts";
import { openStore } from "../store/mod.ts";
import { signSettings } from "../protocol/settings.ts";

Deno.test("a report crosses client → relay → server at each encryption level, and the canary is on no wire or disk unless the level is none", async () => {
  await using site = await createSite();
  const kid = await generateKey(site, true);
  await using _server = await startServer(site);
  const relayDir = `${site.root}/relay`;
  await using recorded = await startRecordedRelay(relayDir, site.serverPort);
  const { upstream, downstream } = recorded;
  for (const level of ["required", "optional", "none"] as const) {
    const canary = randomCanary(level);
    const clientDir = `${site.root}/client-${level}`;
    const computerId = await registerByReport(
      site,
      clientDir,
      downstream.port,
      canaryReportArgs(canary, level),
    );
    const [stored] = await waitForStored(site, computerId, 1);
    assert.equal(stored.report.custom.Secret, canary);
    assert.equal(stored.report.properties.encryption_level, level);
    assert.equal(typeof stored.report.properties.hostname, "string");
    assert.equal(stored.encrypted, level !== "none");
    assert.equal(stored.kid, level === "none" ? null : kid);

    const status = await clientStatus(clientDir);
    assert.equal(status.encryptingNow, level !== "none");
    assert.equal(status.queueDepth, 0);

    const relayDisk = await readTree(relayDir);
    if (level === "none") {
      assert.ok(containsCanary(downstream.text, canary), "clear text is visible on the wire");
      assert.ok(containsCanary(upstream.text, canary));
    } else {
      assert.ok(
        !containsCanary(downstream.text, canary),
        "canary seen on the client → relay wire",
      );
      assert.ok(!containsCanary(upstream.text, canary), "canary seen on the relay → server wire");
      assert.ok(!containsCanary(relayDisk, canary), "canary seen in the relay's folders");
    }
  }
});

Deno.test("required with no certificate sends nothing and queues; once a key is deployed the queue drains encrypted", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  await using proxy = new RecordingProxy(site.serverPort);
  const clientDir = `${site.root}/client`;
  const canary = randomCanary("held");
  const first = await clientReport(site, clientDir, proxy.port, canaryReportArgs(canary));
  assert.equal(first.code, 3, first.stderr);
  assert.match(first.stderr, /no deployed encryption certificate/);
  assert.ok(!proxy.text.includes(`POST ${API.reports}`), "a report was sent");
  let status = await clientStatus(clientDir);
  assert.equal(status.queueDepth, 1);
  assert.equal(status.encryptingNow, false);
  assert.match(String((status.lastFailure as { message: string }).message), /required/);

  // Pending is not enough: clients are not told to use a pending key.
  const kid = await generateKey(site, false);
  const second = await clientReport(site, clientDir, proxy.port, ["--encryption", "required"]);
  assert.equal(second.code, 3, second.stderr);
  assert.ok(!proxy.text.includes(`POST ${API.reports}`));

  await deployKey(site);
  await eventually(async () => {
    const response = await fetch(
      `http://127.0.0.1:${site.serverPort}${API.encryptionCertificate}`,
    );
    await response.body?.cancel();
    return response.status === 200 ? true : undefined;
  }, "the server to pick up the deployed key");
  const third = await clientReport(site, clientDir, proxy.port, ["--encryption", "required"]);
  assert.equal(third.code, 0, third.stderr);
  const computerId = await computerIdOf(clientDir);
  const stored = await waitForStored(site, computerId, 3);
  assert.equal(stored.length, 3);
  assert.ok(stored.every((r) => r.encrypted && r.kid === kid));
  assert.equal(stored[0].report.custom.Secret, canary);
  assert.ok(!containsCanary(proxy.text, canary));
  status = await clientStatus(clientDir);
  assert.equal(status.queueDepth, 0);
  assert.equal(status.lastFailure, null);
  assert.equal(status.certificateKid, kid);
});

Deno.test("required behind a relay that predates MLE sends nothing", async () => {
  await using deployment = await startRelayedSite({ withKey: true, relayArgs: PRE_MLE_RELAY_ARGS });
  const { site, relayPort } = deployment;
  await using proxy = new RecordingProxy(relayPort);
  const required = await clientReport(site, `${site.root}/client-required`, proxy.port, [
    "--encryption",
    "required",
  ]);
  assert.equal(required.code, 3, required.stderr);
  assert.match(required.stderr, /does not accept encrypted reports/);
  assert.ok(!proxy.text.includes(`POST ${API.reports}`));
  const status = await clientStatus(`${site.root}/client-required`);
  assert.equal(status.parentAcceptsEncrypted, false);
  assert.equal(status.queueDepth, 1);

  // An optional client holding the site's certificate is held too: tests/downgrade_test.ts.
});

Deno.test("a relay killed while holding accepted reports, with the server down, delivers each report exactly once when both are back", async () => {
  await using deployment = await startRelayedSite({ withKey: true });
  const { site, server, relayPort, relayDir, relay } = deployment;
  // The restarted relay's parent: the server's answers to its deliveries, on the wire.
  await using upstream = new TamperingProxy(site.serverPort);
  const clientDir = `${site.root}/client`;
  const computerId = await registerByReport(site, clientDir, relayPort, [
    "--encryption",
    "required",
  ]);
  await waitForStored(site, computerId, 1);

  await server.stop();
  for (let i = 0; i < 3; i++) {
    const held = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
    assert.equal(
      held.code,
      0,
      `the relay should accept while the server is down: ${held.stderr}`,
    );
  }
  assert.equal((await clientStatus(clientDir)).queueDepth, 0);
  assert.equal((await spooledMessages(relayDir)).length, 3);
  await relay.stop("SIGKILL");

  await using _restartedServer = await startServer(site);
  await using _restartedRelay = await startRelay(relayDir, relayPort, upstream.port);
  await eventually(
    async () => (await spooledMessages(relayDir)).length === 0 ? true : undefined,
    "the relay's spool emptied",
  );
  // What the server answered the restarted relay: each held report stored once, and no resend
  // (which it would have answered 409 ERR_DUPLICATE_REPORT) of anything it already had.
  const deliveries = reportDeliveries(upstream);
  assert.deepEqual(deliveries.stored.sort(), [2, 3, 4].map((seq) => `${computerId}:${seq}`));
  assert.deepEqual(deliveries.duplicates, [], "the relay resent reports the server had stored");
  assert.deepEqual(deliveries.other, []);
  const stored = await storedReports(site, computerId);
  assert.deepEqual(stored.map((r) => r.seq), [1, 2, 3, 4]);
  assert.ok(stored.every((r) => r.encrypted));
});

Deno.test("a client whose parent is down keeps its reports queued and delivers them later", async () => {
  await using site = await createSiteWithKey();
  const clientDir = `${site.root}/client`;
  await reportExpectingExit(4, site, clientDir, site.serverPort, ["--encryption", "required"]);
  assert.equal((await clientStatus(clientDir)).queueDepth, 1);
  await using _server = await startServer(site);
  const online = await clientReport(site, clientDir, site.serverPort, [
    "--encryption",
    "required",
  ]);
  assert.equal(online.code, 0, online.stderr);
  const stored = await waitForStored(site, await computerIdOf(clientDir), 2);
  assert.equal(stored.length, 2);
});

Deno.test("a level deployed with admin settings set replaces the install-time level before the next report", async () => {
  await using site = await createSite();
  const kid = await generateKey(site, true);
  await using _server = await startServer(site);
  const clientDir = `${site.root}/client`;
  const computerId = await registerByReport(site, clientDir, site.serverPort, [
    "--encryption",
    "none",
  ]);
  let status = await clientStatus(clientDir);
  assert.equal(status.encryptionLevel, "none");
  assert.equal(status.encryptionLevelSource, "command line");

  await setSettings(site, computerId, ["_BESClient_Report_Encryption=required"]);
  const second = await clientReport(site, clientDir, site.serverPort, ["--encryption", "none"]);
  assert.equal(second.code, 0, second.stderr);
  status = await clientStatus(clientDir);
  assert.equal(status.encryptionLevel, "required");
  assert.equal(status.encryptionLevelSource, "deployed");
  const stored = await waitForStored(site, computerId, 2);
  assert.equal(stored[0].encrypted, false);
  assert.equal(stored[1].encrypted, true);
  assert.equal(stored[1].kid, kid);

  const human = await runRole("client", ["status", "--data-dir", clientDir]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /Encryption level\s+required \(deployed\)/);
});

Deno.test("settings signed by anyone but the site key are refused by the client", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const clientDir = `${site.root}/client`;
  const computerId = await registerByReport(site, clientDir, site.serverPort, [
    "--encryption",
    "optional",
  ]);
  const forger = await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const forged = await signSettings(forger.privateKey, {
    computers: "all",
    settings: { _BESClient_Report_Encryption: "none" },
    issuedAt: Date.now(),
    id: crypto.randomUUID(),
  });
  const store = openStore(site.serverDir);
  await store.addSettings(null, JSON.stringify(forged), Date.now());
  store.close();

  const result = await clientReport(site, clientDir, site.serverPort, [
    "--encryption",
    "optional",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /ignored a settings document: Cannot trust mle-settings/);
  const status = await clientStatus(clientDir);
  assert.equal(status.encryptionLevel, "optional");
  assert.equal(status.encryptionLevelSource, "command line");
  assert.equal((await storedReports(site, computerId)).length, 2);
});

Deno.test("client run reports every interval as a service and stops cleanly on SIGTERM", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site);
  const clientDir = `${site.root}/client`;
  await using service = new RoleProcess("client", [
    "run",
    "--interval",
    "1",
    ...clientConnectionArgs(site, clientDir, site.serverPort),
    "--encryption",
    "required",
  ]);
  await service.waitFor("registered as computer");
  const computerId = await computerIdOf(clientDir);
  const stored = await waitForStored(site, computerId, 3);
  assert.ok(stored.every((r) => r.encrypted));
  const status = await service.stop("SIGTERM");
  assert.equal(status.code, 0);
  assert.match(service.stderr, /stopped/);
});

Deno.test("by default the server refuses clear text from a computer whose level is required and accepts it from others; --accept-clear-from-required lets it in for a migration", async () => {
  await using site = await createSite();
  await using server = await startServer(site);
  const strict = `${site.root}/strict`;
  const relaxed = `${site.root}/relaxed`;
  const optional = ["--encryption", "optional"];
  const strictId = await registerByReport(site, strict, site.serverPort, optional);
  await registerByReport(site, relaxed, site.serverPort, optional);
  await setSettings(site, strictId, ["_BESClient_Report_Encryption=required"]);
  // The server reads the deployed levels again within its poll of the store.
  await server.waitFor(/settings changed, levels read records=1/);
  // A clear report signed by the strict computer's own key, as a misconfigured client would send.
  const key = await readClientKey(`${strict}/KeyStorage/client.pvk`);
  const body = reportBytes(strictId, 77, {}, {});
  const message = await signReport(key.privateKey, { cid: strictId, seq: 77, kid: null }, body);
  const post = () => postReport(site.serverPort, JSON.stringify(message));
  const response = await post();
  assert.equal(response.status, 403);
  const refusal = (await response.json()).error;
  assert.equal(refusal.code, "ERR_CLEAR_TEXT_REFUSED");
  assert.match(refusal.message, /encryption level is required/);
  // The way out for each side: the client encrypts (a key deployed), or the operator lets
  // clear text in for a migration.
  assert.match(refusal.message, /mle-admin encryption deploy/);
  assert.match(refusal.message, /mle-server run --accept-clear-from-required/);
  // The relaxed computer still reports in clear text (no certificate deployed).
  assert.equal(
    (await clientReport(site, relaxed, site.serverPort, ["--encryption", "optional"])).code,
    0,
  );
  assert.equal((await storedReports(site, await computerIdOf(relaxed))).length, 2);

  // The migration opt-out; the former opt-in flag is still accepted and changes nothing.
  await server.stop();
  await using _migrating = await startServer(site, [
    "--accept-clear-from-required",
    "--refuse-clear-from-required",
  ]);
  const accepted = await post();
  assert.equal(accepted.status, 200, await accepted.text());
  assert.deepEqual((await storedReports(site, strictId)).map((r) => r.seq), [1, 77]);
});
