/**
 * Key rotation from the centre (`mle-admin computers rotate-keys`), with real processes on
 * 127.0.0.1: clients carry out the site's signed directive once, only when it names them.
 */

import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { readClientKey } from "../keystore/key_storage.ts";
import { signHandover } from "../protocol/handover.ts";
import { API } from "../protocol/paths.ts";
import { signRegistration } from "../protocol/registration.ts";
import {
  admin,
  clientConnectionArgs,
  clientReport,
  clientStatus,
  createSiteWithKey,
  freePort,
  listComputers,
  type ListedRotation,
  postReportSignedAs,
  registerByReport,
  relayPasswordFile,
  startRelay,
  startRelayedSite,
  startServer,
  startSiteBehindProxy,
  storedReports,
  type TestSite,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { RoleProcess, runRole } from "./run_role.ts";

async function outstanding(site: TestSite): Promise<ListedRotation[]> {
  return JSON.parse(
    (await admin(["computers", "rotations", "--json", "--data-dir", site.serverDir])).stdout,
  );
}

async function rotateKeys(site: TestSite, selection: string[]): Promise<string> {
  return (await admin([
    "computers",
    "rotate-keys",
    ...selection,
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ])).stdout;
}

function runClient(site: TestSite, dir: string, parentPort: number): RoleProcess {
  return new RoleProcess("client", [
    "run",
    "--interval",
    "1",
    ...clientConnectionArgs(site, dir, parentPort),
  ]);
}

/** The sequence numbers stored for a machine under all of its ids, ascending. */
async function storedSeqs(site: TestSite, ids: number[]): Promise<number[]> {
  const seqs = [];
  for (const id of ids) seqs.push(...(await storedReports(site, id)).map((r) => r.seq));
  return seqs.sort((a, b) => a - b);
}

Deno.test("computers rotate-keys: of three running clients the two named get new ids linked 'replaced by', their old ids are refused, the third is untouched, no report is lost", async () => {
  await using deployment = await startRelayedSite({ withKey: true });
  const { site, relayPort } = deployment;
  const dirs = ["a", "b", "c"].map((name) => `${site.root}/${name}`);
  await using running = new AsyncDisposableStack();
  // b reports through the relay, which passes the directive on like the settings.
  const clients = dirs.map((dir, i) =>
    running.use(runClient(site, dir, i === 1 ? relayPort : site.serverPort))
  );
  for (const client of clients) await client.waitFor("registered as computer");
  const oldIds: number[] = [];
  const oldKeys: Awaited<ReturnType<typeof readClientKey>>[] = [];
  for (const dir of dirs) {
    oldIds.push((await clientStatus(dir)).computerId as number);
    oldKeys.push(await readClientKey(`${dir}/KeyStorage/client.pvk`));
  }
  const [a, b, c] = oldIds;

  const signed = await rotateKeys(site, [String(a), String(b)]);
  assert.match(signed, /Signed rotation directive #1 for 2 computers \(\d+, \d+\)/);

  const newIds = await eventually(async () => {
    const ids = [];
    for (const dir of dirs.slice(0, 2)) ids.push((await clientStatus(dir)).computerId);
    return ids.every((id, i) => typeof id === "number" && id !== oldIds[i])
      ? ids as number[]
      : undefined;
  }, "the two named clients to register new keys");
  await clients[0].waitFor(`replacing computer ${a} (hand-over)`);
  await clients[1].waitFor(`replacing computer ${b} (hand-over)`);

  const list = await listComputers(site);
  for (const [i, oldId] of [a, b].entries()) {
    const old = list.find((entry) => entry.id === oldId)!;
    assert.equal(old.replacedBy, newIds[i]);
    assert.equal(old.rotation?.state, "done");
    assert.equal(old.rotation?.newComputerId, newIds[i]);
    const refused = await postReportSignedAs(site.serverPort, oldKeys[i].privateKey, oldId, 1e6);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "ERR_COMPUTER_REPLACED");
  }
  const table = await admin(["computers", "list", "--data-dir", site.serverDir]);
  assert.match(table.stdout, new RegExp(`done → ${newIds[0]}`));
  assert.deepEqual(await outstanding(site), []);

  // The third: same id, same key, not named.
  assert.equal((await clientStatus(dirs[2])).computerId, c);
  const third = await readClientKey(`${dirs[2]}/KeyStorage/client.pvk`);
  assert.equal(third.publicKeyText, oldKeys[2].publicKeyText);
  assert.equal(list.find((entry) => entry.id === c)!.rotation, null);
  assert.equal(list.find((entry) => entry.id === c)!.replacedBy, null);

  // The new ids report, and nobody rotates again (a rotated client is not named any more).
  for (const [i, client] of clients.slice(0, 2).entries()) {
    await eventually(
      async () => (await storedReports(site, newIds[i])).length >= 2 || undefined,
      "reports under the new id",
    );
    assert.equal(client.stderr.match(/rotate its keys/g)?.length, 1, client.stderr);
  }
  for (const client of clients) await client.stop();

  // No report lost: every sequence number a machine spent is stored, under its old or new id.
  for (const [i, dir] of dirs.entries()) {
    assert.equal((await clientReport(site, dir, site.serverPort)).code, 0);
    const status = await clientStatus(dir);
    assert.equal(status.queueDepth, 0);
    const ids = i < 2 ? [oldIds[i], newIds[i]] : [c];
    const seqs = await storedSeqs(site, ids);
    const spent = seqs[seqs.length - 1];
    assert.deepEqual(seqs, Array.from({ length: spent }, (_, k) => k + 1), `machine ${dir}`);
  }
});

Deno.test("computers rotate-keys --where --compromised: only the matching computer rotates, its new entry waits for confirm; a parent serving the directive to a computer it does not name changes nothing", async () => {
  await using deployment = await startSiteBehindProxy();
  const { site, proxy: tampering } = deployment;
  const blue = `${site.root}/blue`;
  const red = `${site.root}/red`;
  assert.equal(
    (await clientReport(site, blue, site.serverPort, ["--property", "Team=blue"])).code,
    0,
  );
  assert.equal(
    (await clientReport(site, red, site.serverPort, ["--property", "Team=red"])).code,
    0,
  );
  const blueId = (await clientStatus(blue)).computerId as number;
  const redId = (await clientStatus(red)).computerId as number;
  const redKey = (await readClientKey(`${red}/KeyStorage/client.pvk`)).publicKeyText;

  const signed = await rotateKeys(site, ["--where", "Team=blue", "--compromised"]);
  assert.match(signed, new RegExp(`for 1 computer \\(${blueId}\\)`));
  const requested = await outstanding(site);
  assert.deepEqual(
    requested.map((r) => [r.computerId, r.state, r.compromised]),
    [[blueId, "requested", true]],
  );
  const rotationsTable = await admin(["computers", "rotations", "--data-dir", site.serverDir]);
  assert.match(rotationsTable.stdout, /compromised .* waiting for its next report/);

  // The server gives the directive (once it re-read its store) only to the computers it names.
  const url = `http://127.0.0.1:${site.serverPort}${API.rotationDirective}`;
  const directive = await eventually(async () => {
    const answer = await fetch(`${url}?computer=${blueId}`);
    const body = await answer.json();
    return answer.status === 200 ? body : undefined;
  }, "the server to serve the directive");
  const forRed = await fetch(`${url}?computer=${redId}`);
  assert.equal(forRed.status, 404);
  assert.equal((await forRed.json()).error.code, "ERR_NO_ROTATION");

  // A parent serving it to red anyway: red verifies it, sees it is not named, and stays.
  tampering.serve(API.rotationDirective, directive);
  assert.equal((await clientReport(site, red, tampering.port)).code, 0);
  assert.equal((await clientStatus(red)).computerId, redId);
  assert.equal((await readClientKey(`${red}/KeyStorage/client.pvk`)).publicKeyText, redKey);

  // Blue carries it out at its next report: a new entry that only claims the old id.
  const rotated = await clientReport(site, blue, site.serverPort);
  assert.equal(rotated.code, 0, rotated.stderr);
  const newBlue = (await clientStatus(blue)).computerId as number;
  assert.notEqual(newBlue, blueId, rotated.stderr);
  let list = await listComputers(site);
  assert.equal(list.find((c) => c.id === newBlue)!.claimsToReplace, blueId);
  assert.equal(list.find((c) => c.id === blueId)!.revokedAt, null, "a claim revokes nobody");
  assert.deepEqual(
    (await outstanding(site)).map((r) => [r.computerId, r.newComputerId, r.awaitingConfirm]),
    [[blueId, newBlue, true]],
  );

  // The same directive served again (a resend) to the rotated machine: not named, not repeated.
  assert.equal((await clientReport(site, blue, tampering.port)).code, 0);
  assert.equal((await clientStatus(blue)).computerId, newBlue);

  await admin([
    "computers",
    "confirm",
    String(newBlue),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  list = await listComputers(site);
  assert.notEqual(list.find((c) => c.id === blueId)!.revokedAt, null);
  assert.deepEqual(await outstanding(site), []);
  assert.equal(list.find((c) => c.id === redId)!.rotation, null);
});

Deno.test("computers rotate-keys behind an authenticating relay: the next report registers the new key through the relay with its hand-over and no password; the old id's later reports and a forged hand-over are refused", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  const passwordFile = await relayPasswordFile(site);
  await using _relay = await startRelay(relayDir, relayPort, site.serverPort, [
    "--authenticating",
    "--password-file",
    passwordFile,
  ]);
  const clientDir = `${site.root}/client`;
  const registered = await runRole("client", [
    "register",
    "--password-file",
    passwordFile,
    ...clientConnectionArgs(site, clientDir, relayPort),
  ]);
  assert.equal(registered.code, 0, registered.stderr);
  const oldId = await registerByReport(site, clientDir, relayPort);
  const oldKey = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);

  await rotateKeys(site, [String(oldId)]);
  const directiveUrl = `http://127.0.0.1:${site.serverPort}${API.rotationDirective}`;
  await eventually(async () => {
    const answer = await fetch(`${directiveUrl}?computer=${oldId}`);
    await answer.body?.cancel();
    return answer.status === 200 || undefined;
  }, "the server to serve the directive");
  // The next report, with no password anywhere, rotates and registers through the relay.
  const newId = await eventually(async () => {
    const reported = await clientReport(site, clientDir, relayPort);
    assert.equal(reported.code, 0, reported.stderr);
    const id = (await clientStatus(clientDir)).computerId as number;
    return id !== oldId ? id : undefined;
  }, "the client to carry out the rotation");
  const list = await listComputers(site);
  assert.equal(list.find((c) => c.id === oldId)!.replacedBy, newId);
  assert.equal(list.find((c) => c.id === newId)!.claimsToReplace, null);
  const admitted = JSON.parse(await Deno.readTextFile(`${relayDir}/authorized-clients.json`));
  const entry = admitted.clients.find((c: { computerId: number }) => c.computerId === newId);
  assert.equal(entry?.by, "hand-over");
  // Its reports go through the relay under the new id.
  assert.equal((await clientReport(site, clientDir, relayPort)).code, 0);
  await eventually(
    async () => (await storedReports(site, newId)).length >= 1 || undefined,
    "a report under the new id",
  );

  // The old id: reports after the ones its key spent are refused.
  const later = await postReportSignedAs(site.serverPort, oldKey.privateKey, oldId, 1e6);
  assert.equal(later.status, 403);
  assert.equal(later.body.error.code, "ERR_COMPUTER_REPLACED");

  // A hand-over for another key, signed by a key that is not the admitted computer's.
  const stranger = await generateSigningKeyPair();
  const intruder = await generateSigningKeyPair();
  const intruderKey = encodeBase64Url(await exportSigningPublicKey(intruder.publicKey));
  const forged = await signRegistration(intruder.privateKey, {
    publicKey: intruderKey,
    hostIdentity: "instance:intruder",
    hostname: "intruder",
    issuedAt: Date.now(),
    handover: await signHandover(stranger.privateKey, {
      oldComputerId: newId,
      newPublicKey: intruderKey,
      issuedAt: Date.now(),
      lastSeq: 0,
    }),
  });
  const refused = await fetch(`http://127.0.0.1:${relayPort}${API.register}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(forged),
  });
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.code, "ERR_HANDOVER_INVALID");
  assert.equal((await listComputers(site)).length, 2, "nothing registered for the forgery");
});
