/**
 * Site-signed documents cannot be rolled back or frozen, with real processes on 127.0.0.1: a
 * parent (or anyone on the wire) replaying an older, validly signed certificate to a restarted
 * decrypting relay, a certificate naming a key the revocation list retires, and a list signed on
 * an admin host whose clock once ran far ahead.
 */

import assert from "node:assert/strict";
import { publishRevocations } from "../admin/_revocations.ts";
import { openSiteKeyFile } from "../keystore/site_key.ts";
import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { API } from "../protocol/paths.ts";
import { readBundleMessage } from "../protocol/report_bundle.ts";
import { verifyRevocations } from "../protocol/revocations.ts";
import { SqliteStore } from "../store/sqlite_store.ts";
import { DATABASE_FILE } from "../store/mod.ts";
import {
  admin,
  ADMIN_ENV,
  clientReport,
  computerIdOf,
  deployKey,
  freePort,
  generateKey,
  generateKeyForRelays,
  QUICK_DECRYPTING_RELAY_ARGS,
  registerByReport,
  startAllowedRelay,
  startRelay,
  startRelayedSite,
  startSiteBehindProxy,
  TEST_PASSWORD,
  type TestSite,
  waitForCertificate,
  waitForStored,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { runRole } from "./run_role.ts";
import { TamperingProxy } from "./tampering_proxy.ts";

async function siteKeyOf(site: TestSite): Promise<CryptoKey> {
  return (await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)))).siteKey;
}

/** The key id each bundle the relay sent through `parent` was sealed to, in order. */
function bundleKids(parent: TamperingProxy): string[] {
  return parent.bodiesOf("POST", API.bundles).map((body) =>
    readBundleMessage(JSON.parse(body)).header.kid
  );
}

/**
 * A site whose key A was deployed, then replaced by key B (imported into `relayDir`), then
 * retired: returns both key ids and A's certificate, validly signed and now outdated.
 */
async function siteWithRetiredKey(site: TestSite, relayDir: string) {
  const kidA = await generateKey(site, true);
  const certificateA = await waitForCertificate(site, site.serverPort, kidA);
  const kidB = await generateKeyForRelays(site, [relayDir]);
  await deployKey(site);
  await waitForCertificate(site, site.serverPort, kidB);
  await admin([
    "encryption",
    "retire",
    kidA,
    "--force",
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  return { kidA, kidB, certificateA };
}

Deno.test("a restarted decrypting relay keeps the newest certificate: its parent replaying an older, validly signed one naming a retired key does not move its bundles off the current key", async () => {
  await using deployment = await startSiteBehindProxy();
  const { site, proxy: parent } = deployment;
  const relayDir = `${site.root}/relay`;
  const relayPort = freePort();
  await using relays = new AsyncDisposableStack();
  const { kidA, kidB, certificateA } = await siteWithRetiredKey(site, relayDir);
  let relay = relays.use(
    await startAllowedRelay(site, relayDir, relayPort, parent.port, QUICK_DECRYPTING_RELAY_ARGS),
  );
  const clientDir = `${site.root}/client`;
  const cid = await registerByReport(site, clientDir, relayPort, ["--encryption", "required"]);
  await waitForStored(site, cid, 1);
  assert.deepEqual(bundleKids(parent), [kidB]);

  // Restarted, the relay finds a parent that serves key A's certificate: older, but signed.
  await relay.stop();
  parent.serve(API.encryptionCertificate, certificateA);
  relay = relays.use(
    await startRelay(relayDir, relayPort, parent.port, QUICK_DECRYPTING_RELAY_ARGS),
  );
  const second = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
  assert.equal(second.code, 0, second.stderr);
  const stored = await waitForStored(site, cid, 2);
  assert.ok(stored.every((report) => report.encrypted && report.kid === kidB));
  assert.ok(!bundleKids(parent).includes(kidA), `a bundle was sealed to retired key ${kidA}`);
  assert.deepEqual(bundleKids(parent), [kidB, kidB], "the second report went up bundled to B");
});

Deno.test("a decrypting relay never seals a bundle to a key its verified revocation list retires, even when its parent serves that key's validly signed certificate", async () => {
  await using deployment = await startSiteBehindProxy();
  const { site, proxy: parent } = deployment;
  const relayDir = `${site.root}/relay`;
  const relayPort = freePort();
  const { kidA, kidB, certificateA } = await siteWithRetiredKey(site, relayDir);
  // The client learnt key B from the server itself.
  const clientDir = `${site.root}/client`;
  const cid = await registerByReport(site, clientDir, site.serverPort, [
    "--encryption",
    "required",
  ]);

  // A fresh relay whose parent withholds B's certificate and serves A's.
  parent.serve(API.encryptionCertificate, certificateA);
  await using relay = await startAllowedRelay(
    site,
    relayDir,
    relayPort,
    parent.port,
    QUICK_DECRYPTING_RELAY_ARGS,
  );
  await relay.waitFor(/revocation list updated [^\n]*retiredKeys=1/);
  const second = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
  assert.equal(second.code, 0, second.stderr);
  const stored = await waitForStored(site, cid, 2);
  assert.ok(stored.every((report) => report.encrypted && report.kid === kidB));
  assert.deepEqual(bundleKids(parent), [], `a bundle was sealed to retired key ${kidA}`);
  await relay.waitFor(`names key ${kidA}, which the site's revocation list retires`);
});

/** The key id of the certificate a relay serves its children now. */
async function kidServedBy(site: TestSite, relayPort: number): Promise<string | null> {
  const response = await fetch(`http://127.0.0.1:${relayPort}${API.encryptionCertificate}`);
  assert.equal(response.status, 200);
  const { certificate } = await verifyEncryptionCertificate(
    await siteKeyOf(site),
    await response.json(),
  );
  return certificate.enabled ? certificate.kid : null;
}

Deno.test("a plain relay serves its children the newest certificate it verified: a fresh client behind it encrypts to the current key although the parent now serves an older, validly signed one, before and after the relay restarts", async () => {
  await using deployment = await startSiteBehindProxy();
  const { site, proxy: parent } = deployment;
  const relayDir = `${site.root}/relay`;
  const relayPort = freePort();
  const relayFlags = ["--masthead", site.masthead];
  await using relays = new AsyncDisposableStack();
  const kidA = await generateKey(site, true);
  const certificateA = await waitForCertificate(site, site.serverPort, kidA);
  let relay = relays.use(await startRelay(relayDir, relayPort, parent.port, relayFlags));
  assert.equal(await kidServedBy(site, relayPort), kidA);
  // Key B replaces A (A stays loaded on the server, so a report sealed to it would be stored).
  const kidB = await generateKey(site, false);
  await deployKey(site);
  await waitForCertificate(site, site.serverPort, kidB);
  assert.equal(await kidServedBy(site, relayPort), kidB);

  // The parent now replays A's certificate: older, but signed by the site.
  parent.serve(API.encryptionCertificate, certificateA);
  for (const round of ["running", "restarted"]) {
    if (round === "restarted") {
      await relay.stop();
      relay = relays.use(await startRelay(relayDir, relayPort, parent.port, relayFlags));
    }
    assert.equal(await kidServedBy(site, relayPort), kidB, round);
    const clientDir = `${site.root}/client-${round}`;
    const report = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
    assert.equal(report.code, 0, report.stderr);
    const stored = await waitForStored(site, await computerIdOf(clientDir), 1);
    assert.deepEqual(stored.map((r) => [r.encrypted, r.kid]), [[true, kidB]], round);
  }
});

Deno.test("a revocation list signed on an admin host whose clock ran ten years ahead does not freeze the later ones, and mle-admin says the clock went back", async () => {
  await using deployment = await startRelayedSite({
    relayArgs: ["--revocation-interval", "1"],
  });
  const { site, relayPort, relay } = deployment;
  const clientDir = `${site.root}/client`;
  const cid = await registerByReport(site, clientDir, relayPort);

  // Once, an admin host with its clock ten years ahead publishes the list (nobody revoked).
  const store = new SqliteStore(`${site.serverDir}/${DATABASE_FILE}`);
  try {
    const siteKey = await openSiteKeyFile(site.siteKey, TEST_PASSWORD);
    await publishRevocations(store, siteKey.privateKey, Date.now() + 10 * 365 * 86_400_000);
  } finally {
    store.close();
  }
  await relay.waitFor(/revocation list updated revoked=0/);

  // Then, with the right clock, the operator revokes the client.
  const revoked = await runRole("admin", [
    "computers",
    "revoke",
    String(cid),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ], { env: ADMIN_ENV });
  assert.equal(revoked.code, 0, revoked.stderr);
  const siteKey = await siteKeyOf(site);
  await eventually(async () => {
    const response = await fetch(`http://127.0.0.1:${relayPort}${API.revocations}`);
    const list = await verifyRevocations(siteKey, await response.json());
    return list.revoked.includes(cid) ? true : undefined;
  }, "the relay to serve the list that revokes the client");
  assert.match(
    revoked.stderr,
    /mle-admin: warning: the previous revocation list says it was issued at 20\d\d-/,
  );
});
