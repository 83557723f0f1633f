/**
 * Which decrypting relays hold which MLE key, as real processes on 127.0.0.1: an allowed
 * decrypting relay records the keys it holds at its server, `mle-admin encryption status` lists
 * it beside the key, `deploy` refuses a key it lacks (naming it and the import to run there)
 * unless `--force`, and a record forged for it is refused and changes nothing.
 */

import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { encodeRelayRecord } from "../protocol/relay_record.ts";
import { RELAY_AUTH_HEADER, signRelayRequest } from "../protocol/relay_request.ts";
import {
  admin,
  adminResult,
  createSiteWithRelayKey,
  deployKey,
  encryptionStatus,
  freePort,
  generateKey,
  relayComputerId,
  startRelay,
  startServer,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { describeResult } from "./run_role.ts";

Deno.test("a decrypting relay shows in encryption status holding its key; deploy refuses a key it lacks, naming it, unless --force; a forged record is refused and stores nothing", async () => {
  await using site = await createSiteWithRelayKey();
  const { relayDir, kid: kidA } = site;
  await using _server = await startServer(site);
  const relayPort = freePort();
  await using relay = await startRelay(relayDir, relayPort, site.serverPort, ["--decrypt"]);
  const siteArgs = ["--site-key", site.siteKey, "--data-dir", site.serverDir];
  const relayId = await relayComputerId(relay);
  // Not allowed yet: its record is refused (and it says how to allow it).
  await relay.waitFor(/refused this relay's record[^\n]*ERR_RELAY_NOT_ALLOWED/);
  await admin(["relays", "allow", String(relayId), ...siteArgs]);
  await deployKey(site);

  // Allowed, it records itself within an interval: key A lists it, live.
  const holders = await eventually(async () => {
    const keyA = (await encryptionStatus(site)).keys.find((key) => key.kid === kidA);
    return keyA && keyA.relays.length > 0 ? keyA.relays : undefined;
  }, "the relay listed as holding key A");
  assert.equal(holders.length, 1);
  assert.equal(holders[0].computerId, relayId);
  assert.equal(holders[0].live, true);
  assert.match(holders[0].name, new RegExp(`:${relayPort}$`));
  assert.equal(holders[0].url, `http://127.0.0.1:${relayPort}`);
  const table = await admin(["encryption", "status", "--data-dir", site.serverDir]);
  assert.match(table.stdout, /DECRYPTING RELAYS HOLDING IT/);
  assert.match(table.stdout, new RegExp(`${kidA}.*:${relayPort} \\(computer ${relayId}\\)`));

  // Key B on the server only: deploy is refused, naming the relay and the import to run there.
  const kidB = await generateKey(site, false);
  const refused = await adminResult(["encryption", "deploy", ...siteArgs]);
  assert.equal(refused.code, 1, describeResult(refused));
  assert.match(refused.stderr, /ERR_KEY_NOT_ON_RELAY/);
  assert.match(refused.stderr, new RegExp(`computer ${relayId}, http://127.0.0.1:${relayPort}`));
  assert.match(
    refused.stderr,
    new RegExp(`mle-admin encryption import --from DIR --kid ${kidB} --data-dir RELAY_DIR`),
  );
  assert.equal(
    (await encryptionStatus(site)).keys.find((key) => key.kid === kidB)?.role,
    "pending",
  );

  // A record forged for the relay (claiming key B) is refused and changes nothing.
  const { path, body } = await encodeRelayRecord({
    name: "forged",
    url: "http://forged:1",
    kids: [kidA, kidB],
  });
  const stranger = await generateSigningKeyPair();
  for (
    const header of [
      undefined,
      await signRelayRequest(stranger.privateKey, relayId, "POST", path),
    ]
  ) {
    const answer = await fetch(`http://127.0.0.1:${site.serverPort}${path}`, {
      method: "POST",
      headers: header === undefined ? {} : { [RELAY_AUTH_HEADER]: header },
      body,
    });
    const said = await answer.json();
    assert.equal(answer.status, 403, JSON.stringify(said));
    assert.match(said.error.code, /^ERR_RELAY_AUTH_(REQUIRED|INVALID)$/);
  }
  const afterForgery = (await encryptionStatus(site)).keys;
  assert.deepEqual(afterForgery.find((key) => key.kid === kidB)?.relays, []);
  assert.deepEqual(
    afterForgery.find((key) => key.kid === kidA)?.relays.map((holder) => holder.name),
    [holders[0].name],
  );

  // --force deploys it anyway, with the same warning.
  const forced = await adminResult(["encryption", "deploy", "--force", ...siteArgs]);
  assert.equal(forced.code, 0, describeResult(forced));
  assert.match(forced.stderr, /ERR_KEY_NOT_ON_RELAY[^\n]*deploying anyway \(--force\)/);
  assert.equal(
    (await encryptionStatus(site)).keys.find((key) => key.kid === kidB)?.role,
    "current",
  );
});
