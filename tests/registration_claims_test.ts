/**
 * Registration claims are not credentials (issue 11, section 1), with real processes on
 * 127.0.0.1. The attacker is a registered endpoint, or a local user on another machine, who knows
 * the victim's computer id and host identity (both travel in clear) but not its key.
 */

import assert from "node:assert/strict";
import { API } from "../protocol/paths.ts";
import {
  admin,
  clientReport,
  createSite,
  listComputers,
  registerByReport,
  registerFreshKey,
  startServer,
  storedReports,
} from "./deployment.ts";

/** The host identity a client with `--host-identifier instance` sends (kept in its data dir). */
async function instanceIdentity(clientDir: string): Promise<string> {
  return `instance:${(await Deno.readTextFile(`${clientDir}/instance-id`)).trim()}`;
}

Deno.test("attack: a registration claiming a compromised-key rotation of another computer, with its host identity, revokes nothing", async () => {
  await using site = await createSite();
  const victimDir = `${site.root}/victim`;
  await using _server = await startServer(site);
  const victimId = await registerByReport(site, victimDir, site.serverPort);

  const attack = await registerFreshKey(site, {
    hostIdentity: await instanceIdentity(victimDir),
    hostname: "attacker",
    previousComputerId: victimId,
    compromised: true,
  });
  assert.equal(attack.status, 200, JSON.stringify(attack.body));
  const attackerId = attack.body.computerId!;

  // The victim keeps reporting, and nothing revoked, replaced, hid or marked it.
  const again = await clientReport(site, victimDir, site.serverPort);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await storedReports(site, victimId)).length, 2);
  const list = await listComputers(site, { all: true });
  const victim = list.find((c) => c.id === victimId)!;
  assert.deepEqual(
    [victim.revokedAt, victim.replacedBy, victim.duplicateOf, victim.removedAt],
    [null, null, null, null],
  );
  const revocations = await fetch(`http://127.0.0.1:${site.serverPort}${API.revocations}`);
  assert.equal(revocations.status, 404, "no revocation list was ever published");
  await revocations.body?.cancel();

  // The claim is flagged for the operator, with the evidence.
  const claimant = list.find((c) => c.id === attackerId)!;
  assert.equal(claimant.claimsToReplace, victimId);
  assert.match(claimant.flagged ?? "", new RegExp(`replace computer ${victimId}`));
  assert.deepEqual(
    [claimant.claim?.replaces, claimant.claim?.signedByOldKey, claimant.claim?.sameHostIdentity],
    [victimId, false, true],
  );
  assert.equal(
    claimant.claim?.replacedReportedSince,
    true,
    "the victim reported after the claim",
  );
  const table = await admin(["computers", "list", "--data-dir", site.serverDir]);
  assert.match(
    table.stdout,
    new RegExp(
      `computer ${attackerId} claims to replace computer ${victimId}.*` +
        `computer ${victimId} reported after the claim`,
    ),
  );
});

Deno.test("attack: a second client with the victim's host identity does not get the victim removed by remove-duplicates", async () => {
  await using site = await createSite();
  const victimDir = `${site.root}/victim`;
  const attackerDir = `${site.root}/attacker`;
  await using _server = await startServer(site);
  const victimId = await registerByReport(site, victimDir, site.serverPort);

  // A local user on another machine copies the victim's host identity and runs the stock client.
  await Deno.mkdir(attackerDir, { recursive: true });
  await Deno.copyFile(`${victimDir}/instance-id`, `${attackerDir}/instance-id`);
  const attackerId = await registerByReport(site, attackerDir, site.serverPort);
  assert.notEqual(attackerId, victimId);

  const removal = await admin(["computers", "remove-duplicates", "--data-dir", site.serverDir]);
  assert.match(
    removal.stdout,
    new RegExp(`kept computer ${victimId} .*reported within the last 7 days`),
  );
  assert.doesNotMatch(removal.stdout, new RegExp(`removed computer ${victimId}`));
  assert.equal(
    (await listComputers(site, { all: true })).find((c) => c.id === victimId)!.removedAt,
    null,
  );

  // The victim still reports, and so becomes the most recent reporter of its group ...
  const again = await clientReport(site, victimDir, site.serverPort);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await storedReports(site, victimId)).length, 2);

  // ... so even --force keeps it and removes the impostor instead.
  const forced = await admin([
    "computers",
    "remove-duplicates",
    "--force",
    "--data-dir",
    site.serverDir,
  ]);
  assert.match(forced.stdout, new RegExp(`removed computer ${attackerId} `));
  assert.doesNotMatch(forced.stdout, new RegExp(`removed computer ${victimId} `));
  const list = await listComputers(site, { all: true });
  assert.equal(list.find((c) => c.id === victimId)!.removedAt, null);
  assert.notEqual(list.find((c) => c.id === attackerId)!.removedAt, null);
  assert.equal((await clientReport(site, victimDir, site.serverPort)).code, 0);
});
