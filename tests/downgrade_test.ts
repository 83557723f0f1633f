/**
 * Issue 11, section 2: no downgrade by an unsigned answer. Real processes on 127.0.0.1: a client
 * that holds the site's signed certificate is put behind a relay that refuses encrypted reports,
 * or behind an on-path attacker who rewrites what the parent says; it must keep its report and
 * upload queued and say why, until a signed decision of the site allows clear text.
 */

import assert from "node:assert/strict";
import {
  admin,
  clientReport,
  clientStatus,
  PRE_MLE_RELAY_ARGS,
  registerByReport,
  setSettings,
  startRelayedSite,
  startSiteBehindProxy,
  storedReports,
  type TestSite,
  waitForStored,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { runRole } from "./run_role.ts";
import { jsonAnswer, TamperingProxy } from "./tampering_proxy.ts";
import { API } from "../protocol/paths.ts";
import { decodeBase64UrlText } from "../envelope/base64url.ts";
import { ALLOW_LEGACY_RELAYS_SETTING } from "../protocol/settings.ts";

const HELD = /does not take encrypted reports although the site enabled encryption/;

/** Queues a small file for upload (sent by the next report cycle). */
async function queueUpload(site: TestSite, clientDir: string): Promise<void> {
  const file = `${site.root}/upload.txt`;
  await Deno.writeTextFile(file, "an upload that must not travel in clear text\n");
  const queued = await runRole("client", ["upload", file, "--data-dir", clientDir]);
  assert.equal(queued.code, 0, queued.stderr);
}

Deno.test("an optional client holding the site's certificate sends no report or upload through a relay that refuses encrypted reports, until the site allows legacy relays in a signed setting", async () => {
  await using deployment = await startRelayedSite({ withKey: true, relayArgs: PRE_MLE_RELAY_ARGS });
  const { site, relayPort } = deployment;
  await using toRelay = new TamperingProxy(relayPort);
  const clientDir = `${site.root}/client`;
  // Straight to the server first: the client now holds the signed certificate (level: default).
  const computerId = await registerByReport(site, clientDir, site.serverPort);
  assert.ok((await storedReports(site, computerId)).every((r) => r.encrypted));

  await queueUpload(site, clientDir);
  const held = await clientReport(site, clientDir, toRelay.port);
  assert.equal(held.code, 3, held.stderr);
  assert.match(held.stderr, HELD);
  assert.match(held.stderr, new RegExp(ALLOW_LEGACY_RELAYS_SETTING));
  assert.equal(toRelay.count("POST", API.reports), 0);
  assert.equal(toRelay.count("POST", API.uploads), 0);
  const status = await clientStatus(clientDir);
  assert.equal(status.queueDepth, 1);
  assert.match(String(status.heldBecause), HELD);
  assert.equal((status.uploads as Array<{ state: string }>)[0].state, "queued");
  assert.equal((await storedReports(site, computerId)).length, 1);

  // The site's signed decision allows clear text through such relays.
  await setSettings(site, "all", [`${ALLOW_LEGACY_RELAYS_SETTING}=1`]);
  const allowed = await clientReport(site, clientDir, toRelay.port);
  assert.equal(allowed.code, 0, allowed.stderr);
  const after = await clientStatus(clientDir);
  assert.equal(after.queueDepth, 0);
  assert.equal(after.heldBecause, null);
  assert.ok(toRelay.count("POST", API.uploads) > 0);
  const stored = await waitForStored(site, computerId, 3);
  assert.deepEqual(stored.map((r) => r.encrypted), [true, false, false]);
});

Deno.test("an on-path attacker who says the parent takes no encrypted reports and hides the certificate gets nothing in clear text", async () => {
  await using deployment = await startSiteBehindProxy({ withKey: true });
  const { site, proxy: attacker } = deployment;
  const clientDir = `${site.root}/client`;
  const computerId = await registerByReport(site, clientDir, attacker.port);

  const attacks: Array<[string, (path: string) => Response | null]> = [
    [
      "capabilities rewritten, certificate hidden",
      (path) =>
        path.startsWith(API.capabilities)
          ? jsonAnswer(200, { role: "relay", acceptsEncryptedReports: false, version: "0" })
          : path.startsWith(API.encryptionCertificate)
          ? jsonAnswer(404, { error: { code: "ERR_NO_CERTIFICATE", message: "none" } })
          : null,
    ],
    [
      "capabilities answered 503",
      (path) =>
        path.startsWith(API.capabilities)
          ? jsonAnswer(503, { error: { code: "ERR_BUSY", message: "busy" } })
          : null,
    ],
  ];
  for (const [name, forge] of attacks) {
    attacker.tamper = async (request, forward) => forge(request.path) ?? await forward();
    await queueUpload(site, clientDir);
    const before = attacker.count("POST", API.reports);
    const held = await clientReport(site, clientDir, attacker.port);
    assert.equal(held.code, 3, `${name}: ${held.stderr}`);
    assert.match(held.stderr, HELD, name);
    assert.equal(attacker.count("POST", API.reports), before, name);
    assert.equal(attacker.count("POST", API.uploads), 0, name);
  }
  assert.equal((await storedReports(site, computerId)).length, 1);

  // The attacker leaves: everything queued goes, encrypted.
  attacker.tamper = null;
  const clean = await clientReport(site, clientDir, attacker.port);
  assert.equal(clean.code, 0, clean.stderr);
  const stored = await storedReports(site, computerId);
  assert.equal(stored.length, 4);
  assert.ok(stored.every((r) => r.encrypted));
});

Deno.test("a parent that answers 415 to an encrypted report pushes neither the report nor the upload into clear text", async () => {
  await using deployment = await startSiteBehindProxy({ withKey: true });
  const { site, proxy: attacker } = deployment;
  const clientDir = `${site.root}/client`;
  const computerId = await registerByReport(site, clientDir, attacker.port);
  await queueUpload(site, clientDir);

  attacker.tamper = async (request, forward) =>
    request.method === "POST" && request.path === API.reports
      ? jsonAnswer(415, {
        error: { code: "ERR_ENCRYPTION_NOT_SUPPORTED", message: "send it in clear text" },
      })
      : await forward();
  const held = await clientReport(site, clientDir, attacker.port);
  assert.equal(held.code, 3, held.stderr);
  assert.match(held.stderr, HELD);
  assert.equal(attacker.count("POST", API.reports), 1, "only the first, untampered report");
  assert.equal(attacker.count("POST", API.uploads), 0);
  const status = await clientStatus(clientDir);
  assert.equal(status.queueDepth, 1);
  assert.equal((status.uploads as Array<{ state: string }>)[0].state, "queued");
  assert.equal((await storedReports(site, computerId)).length, 1);
});

Deno.test("an optional client sends clear text through a relay that refuses encrypted reports once the site's newest signed certificate says encryption is disabled", async () => {
  await using deployment = await startRelayedSite({ withKey: true, relayArgs: PRE_MLE_RELAY_ARGS });
  const { site, relayPort } = deployment;
  const clientDir = `${site.root}/client`;
  const computerId = await registerByReport(site, clientDir, site.serverPort);
  assert.equal((await clientReport(site, clientDir, relayPort)).code, 3);

  await admin([
    "encryption",
    "disable",
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  // The server picks up the "disabled" certificate within seconds.
  await eventually(async () => {
    const answer = await fetch(`http://127.0.0.1:${relayPort}${API.encryptionCertificate}`);
    const document = await answer.json();
    return JSON.parse(decodeBase64UrlText(document.payload)).enabled === false ? true : undefined;
  }, "the relay to pass down the disabled certificate");
  const sent = await clientReport(site, clientDir, relayPort);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal((await clientStatus(clientDir)).certificateKid, null);
  const stored = await waitForStored(site, computerId, 3);
  assert.deepEqual(stored.map((r) => r.encrypted), [true, false, false]);
});
