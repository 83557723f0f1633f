/**
 * Client key rotation (seed 002), duplicates and revocation, with real processes on 127.0.0.1.
 */

import assert from "node:assert/strict";
import { readClientKey } from "../keystore/key_storage.ts";
import { API } from "../protocol/paths.ts";
import {
  admin,
  clientConnectionArgs,
  clientReport,
  clientStatus,
  createSite,
  createSiteWithKey,
  freePort,
  listComputers,
  type ListedComputer,
  postReportSignedAs,
  registerByReport,
  rejectedFiles,
  relayPasswordFile,
  reportExpectingExit,
  runClientCommand,
  spooledMessages,
  startRecordedRelay,
  startRelay,
  startServer,
  storedReports,
  type TestSite,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { RoleProcess } from "./run_role.ts";

/** Posts a clear report signed with `key` claiming to come from `cid`. */
async function postSignedAs(site: TestSite, key: CryptoKey, cid: number, seq: number) {
  return await postReportSignedAs(site.serverPort, key, cid, seq);
}

Deno.test("rotate-keys with hand-over: queued reports are delivered first, the new id replaces the old, the old key is refused", async () => {
  await using site = await createSiteWithKey();
  const clientDir = `${site.root}/client`;
  await using server = await startServer(site);
  const oldId = await registerByReport(site, clientDir, site.serverPort, [
    "--encryption",
    "required",
  ]);
  const oldKey = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);

  await server.stop();
  await reportExpectingExit(4, site, clientDir, site.serverPort, ["--encryption", "required"]);
  assert.equal((await clientStatus(clientDir)).queueDepth, 1);
  await using _restarted = await startServer(site);

  const rotated = await runClientCommand(["rotate-keys"], site, clientDir, site.serverPort);
  assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
  assert.match(rotated.stdout, /delivered 1 queued report\(s\) with the current key/);
  assert.match(rotated.stdout, new RegExp(`deleted ${clientDir}/KeyStorage`));
  const newId = (await clientStatus(clientDir)).computerId as number;
  assert.notEqual(newId, oldId);
  assert.match(rotated.stdout, new RegExp(`computer ${oldId} is now computer ${newId}`));

  // The queued report went out under the old id, before the old key was discarded.
  assert.equal((await storedReports(site, oldId)).length, 2);
  const list = await listComputers(site);
  const old = list.find((c) => c.id === oldId)!;
  assert.equal(old.replacedBy, newId);
  assert.equal(old.duplicateOf, null);
  assert.equal(list.find((c) => c.id === newId)!.flagged, null);
  const table = await admin(["computers", "duplicates", "--data-dir", site.serverDir]);
  assert.match(table.stdout, /No duplicate computers/);

  const refused = await postSignedAs(site, oldKey.privateKey, oldId, 999);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "ERR_COMPUTER_REPLACED");
  assert.equal(
    (await clientReport(site, clientDir, site.serverPort, ["--encryption", "required"])).code,
    0,
  );
  assert.equal((await storedReports(site, newId)).length, 1);
});

Deno.test("reports spooled at a relay before rotate-keys are stored once under the old id; the old key's later reports are refused ERR_COMPUTER_REPLACED", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site);
  const relayDir = `${site.root}/relay`;
  // The relay reaches the server only through its upstream link, which the test cuts and
  // restores; the clients talk to the relay's own port.
  await using recorded = await startRecordedRelay(relayDir, site.serverPort);
  const { upstream: link, relayPort } = recorded;
  const clientDir = `${site.root}/client`;
  // The relay first; the server itself when the relay cannot help (a registration while the
  // relay's parent is down).
  const secondParent = ["--parent", `http://127.0.0.1:${site.serverPort}`];
  const first = await clientReport(site, clientDir, relayPort, secondParent);
  assert.equal(first.code, 0, first.stderr);
  const oldId = (await clientStatus(clientDir)).computerId as number;
  const oldKey = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);
  await eventually(
    async () => (await storedReports(site, oldId)).length === 1 || undefined,
    "the first report to reach the server",
  );

  link.cut();
  for (let i = 0; i < 3; i++) {
    const spooled = await clientReport(site, clientDir, relayPort, secondParent);
    assert.equal(spooled.code, 0, spooled.stderr);
  }
  // The relay answered 202: the client holds nothing, the relay holds them.
  assert.equal((await clientStatus(clientDir)).queueDepth, 0);
  assert.equal((await spooledMessages(relayDir)).length, 3);

  const rotated = await runClientCommand(["rotate-keys"], site, clientDir, relayPort, secondParent);
  assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
  const newId = (await clientStatus(clientDir)).computerId as number;
  assert.notEqual(newId, oldId);
  // The new key registered with its hand-over while the old id's reports were still spooled.
  assert.equal((await spooledMessages(relayDir)).length, 3);
  const replaced = await postReportSignedAs(site.serverPort, oldKey.privateKey, oldId, 5);
  assert.equal(replaced.status, 403);
  assert.equal(replaced.body.error.code, "ERR_COMPUTER_REPLACED");

  link.restore();
  await eventually(
    async () => (await spooledMessages(relayDir)).length === 0 || undefined,
    "the relay to deliver its spool",
    90_000,
  );
  const stored = (await storedReports(site, oldId)).map((report) => report.seq);
  assert.deepEqual(stored, [1, 2, 3, 4]);
  assert.deepEqual(await rejectedFiles(relayDir), []);

  // Numbers the old key spent are stored once; a later one is refused.
  const resent = await postReportSignedAs(site.serverPort, oldKey.privateKey, oldId, 4);
  assert.equal(resent.status, 409);
  const later = await postReportSignedAs(site.serverPort, oldKey.privateKey, oldId, 5);
  assert.equal(later.status, 403);
  assert.equal(later.body.error.code, "ERR_COMPUTER_REPLACED");
  assert.match(later.body.error.message, /only its reports up to 4 are accepted/);
});

Deno.test("rotate-keys --compromised: the new entry is flagged and the old id stays valid until the operator confirms, which revokes it; queued reports re-signed", async () => {
  await using site = await createSiteWithKey();
  const clientDir = `${site.root}/client`;
  await using server = await startServer(site);
  const oldId = await registerByReport(site, clientDir, site.serverPort);
  const oldKey = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);
  await server.stop();
  assert.equal(
    (await clientReport(site, clientDir, site.serverPort, ["--property", "Queued=yes"])).code,
    4,
  );
  await using _restarted = await startServer(site);

  const rotated = await runClientCommand(
    ["rotate-keys", "--compromised"],
    site,
    clientDir,
    site.serverPort,
  );
  assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
  const newId = (await clientStatus(clientDir)).computerId as number;
  assert.notEqual(newId, oldId);
  assert.match(rotated.stdout, /the old id stays valid until the operator confirms/);
  const list = await listComputers(site);
  assert.equal(list.find((c) => c.id === oldId)!.revokedAt, null);
  assert.equal(list.find((c) => c.id === oldId)!.duplicateOf, null);
  const flagged = list.find((c) => c.id === newId)!;
  assert.match(flagged.flagged ?? "", new RegExp(`replace computer ${oldId}.*compromised`));
  assert.equal(flagged.claimsToReplace, oldId);
  assert.equal(flagged.claim?.signedByOldKey, true, "the old key signed for the new one");
  assert.equal(flagged.claim?.replacedReportedSince, false);
  // The queued report was re-signed with the new key and stored under the new id.
  const stored = await storedReports(site, newId);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].report.custom.Queued, "yes");

  // A claim revokes nobody: until the operator confirms, the old key is still accepted ...
  assert.equal((await postSignedAs(site, oldKey.privateKey, oldId, 998)).status, 200);

  const confirmed = await admin([
    "computers",
    "confirm",
    String(newId),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  assert.match(
    confirmed.stdout,
    new RegExp(`Revoked computer ${oldId}, which computer ${newId}`),
  );
  const after = await listComputers(site);
  assert.equal(after.find((c) => c.id === newId)!.flagged, null);
  assert.notEqual(after.find((c) => c.id === oldId)!.revokedAt, null);
  // ... and refused once the server re-reads who is revoked (every few seconds).
  const refused = await eventually(async () => {
    const answer = await postSignedAs(site, oldKey.privateKey, oldId, 999);
    return answer.status === 403 ? answer : undefined;
  }, "the server to refuse the revoked computer");
  assert.equal(refused.body.error.code, "ERR_COMPUTER_REVOKED");
  const revocations = await fetch(`http://127.0.0.1:${site.serverPort}${API.revocations}`);
  assert.equal(revocations.status, 200);
  const body = JSON.parse(
    new TextDecoder().decode(
      Uint8Array.fromBase64((await revocations.json()).payload, { alphabet: "base64url" }),
    ),
  );
  assert.deepEqual(body.revoked, [oldId]);
});

Deno.test("a machine that loses its KeyStorage without rotate-keys shows as a duplicate; remove-duplicates removes the older entry once idle, or with --force", async () => {
  await using site = await createSite();
  const clientDir = `${site.root}/client`;
  await using _server = await startServer(site);
  const oldId = await registerByReport(site, clientDir, site.serverPort);
  await Deno.remove(`${clientDir}/KeyStorage`, { recursive: true }); // the manual procedure
  const newId = await registerByReport(site, clientDir, site.serverPort);
  assert.notEqual(newId, oldId);

  const duplicates = JSON.parse(
    (await admin(["computers", "duplicates", "--json", "--data-dir", site.serverDir])).stdout,
  ) as { groups: { keep: number; members: (ListedComputer & { action: string })[] }[] };
  assert.deepEqual(duplicates.groups.map((g) => g.keep), [newId]);
  assert.deepEqual(
    duplicates.groups[0].members.map((c) => [c.id, c.duplicateOf, c.action]),
    [[newId, null, "keep"], [oldId, newId, "keep"]],
    "the old entry reported today: kept unless forced",
  );

  // Both reported today: nothing is removed unless forced or the idle time is shortened.
  const spared = await admin(["computers", "remove-duplicates", "--data-dir", site.serverDir]);
  assert.match(spared.stdout, new RegExp(`kept computer ${oldId} .*--force removes it`));
  const dry = await admin([
    "computers",
    "remove-duplicates",
    "--dry-run",
    "--min-idle",
    "0",
    "--data-dir",
    site.serverDir,
  ]);
  assert.match(dry.stdout, new RegExp(`would remove computer ${oldId}`));
  assert.equal((await listComputers(site)).length, 2);
  const removed = await admin([
    "computers",
    "remove-duplicates",
    "--force",
    "--data-dir",
    site.serverDir,
  ]);
  assert.match(removed.stdout, new RegExp(`removed computer ${oldId} .*last reported`));
  assert.deepEqual((await listComputers(site)).map((c) => c.id), [newId]);
  assert.equal((await listComputers(site, { all: true })).length, 2);
});

Deno.test("identity is proof of key only: a report signed with one computer's key claiming another's id is refused", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  assert.equal((await clientReport(site, `${site.root}/a`, site.serverPort)).code, 0);
  assert.equal((await clientReport(site, `${site.root}/b`, site.serverPort)).code, 0);
  const a = await readClientKey(`${site.root}/a/KeyStorage/client.pvk`);
  const b = (await clientStatus(`${site.root}/b`)).computerId as number;
  const refused = await postSignedAs(site, a.privateKey, b, 50);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "ERR_SIGNATURE_INVALID");
});

Deno.test("rotate-keys --dry-run prints what would be deleted and run for each OS, and changes nothing", async () => {
  await using site = await createSite();
  const clientDir = `${site.root}/client`;
  await using _server = await startServer(site);
  assert.equal((await clientReport(site, clientDir, site.serverPort)).code, 0);
  const expected: Record<string, string> = {
    windows: `powershell.exe -NoProfile -Command "Restart-Service -Name 'BES Client'"`,
    macos: "/usr/local/bin/mle-client -restart",
    aix: "/etc/rc.d/rc2.d/SBESClientd restart",
    hpux: "/sbin/init.d/besclient restart",
    solaris: "/etc/init.d/besclient restart",
    linux: "restart",
  };
  for (const [os, command] of Object.entries(expected)) {
    const dry = await runClientCommand(
      ["rotate-keys", "--dry-run", "--os", os],
      site,
      clientDir,
      site.serverPort,
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(dry.stdout.includes(command), `${os}: ${dry.stdout}`);
    assert.ok(dry.stdout.includes(`delete ${clientDir}/KeyStorage`));
    assert.ok(dry.stdout.includes(`${clientDir}/KeyStorage/client.pvk`));
  }
  await Deno.stat(`${clientDir}/KeyStorage/client.pvk`);
  const bad = await runClientCommand(
    ["rotate-keys", "--dry-run", "--os", "beos"],
    site,
    clientDir,
    site.serverPort,
  );
  assert.equal(bad.code, 2);
});

Deno.test("rotate-keys restarts a running client service directly, which registers the new key", async () => {
  await using site = await createSite();
  const clientDir = `${site.root}/client`;
  await using _server = await startServer(site);
  await using service = new RoleProcess("client", [
    "run",
    "--interval",
    "3600",
    ...clientConnectionArgs(site, clientDir, site.serverPort),
  ]);
  await service.waitFor("registered as computer");
  const oldId = (await clientStatus(clientDir)).computerId as number;
  const rotated = await runClientCommand(["rotate-keys"], site, clientDir, site.serverPort);
  assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
  assert.match(rotated.stdout, /restarted the running agent \(pid \d+\)/);
  await service.waitFor("restarted");
  const newId = (await clientStatus(clientDir)).computerId as number;
  assert.notEqual(newId, oldId);
  assert.equal((await listComputers(site)).find((c) => c.id === oldId)!.replacedBy, newId);
});

Deno.test("rotate-keys behind an authenticating relay: with a hand-over the new key registers through it without the password; --compromised ends by naming the manual key exchange, which completes it", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const relayPort = freePort();
  const passwordFile = await relayPasswordFile(site);
  await using _relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    "--authenticating",
    "--password-file",
    passwordFile,
  ]);
  const clientDir = `${site.root}/client`;
  /** The key exchange at the relay with the shared password. */
  const register = () =>
    runClientCommand(["register", "--password-file", passwordFile], site, clientDir, relayPort);
  const registered = await register();
  assert.equal(registered.code, 0, registered.stderr);
  const oldId = (await clientStatus(clientDir)).computerId as number;

  // The old key's hand-over admits the new key at the relay: no password.
  const rotated = await runClientCommand(["rotate-keys"], site, clientDir, relayPort);
  assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
  const newId = (await clientStatus(clientDir)).computerId as number;
  assert.notEqual(newId, oldId);
  assert.equal((await listComputers(site)).find((c) => c.id === oldId)!.replacedBy, newId);

  // A compromised key's statement admits nothing: the key exchange again.
  const compromised = await runClientCommand(
    ["rotate-keys", "--compromised"],
    site,
    clientDir,
    relayPort,
  );
  assert.equal(compromised.code, 1, compromised.stdout + compromised.stderr);
  assert.match(compromised.stderr, /authenticating relay/);
  assert.ok(
    compromised.stderr.includes(`mle-client register --password … --data-dir ${clientDir}`),
    compromised.stderr,
  );

  const again = await register();
  assert.equal(again.code, 0, again.stderr);
  const thirdId = (await clientStatus(clientDir)).computerId as number;
  assert.notEqual(thirdId, newId);
  assert.equal((await listComputers(site)).find((c) => c.id === thirdId)!.claimsToReplace, newId);
});
