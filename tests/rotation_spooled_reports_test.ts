/**
 * Reports a relay accepted (202, spooled) before a key rotation, delivered to the server only
 * after the new key registered with its hand-over, with real processes on 127.0.0.1.
 */

import assert from "node:assert/strict";
import { readClientKey } from "../keystore/key_storage.ts";
import {
  clientReport,
  clientStatus,
  createSiteWithKey,
  postReportSignedAs,
  rejectedFiles,
  runClientCommand,
  spooledMessages,
  startRecordedRelay,
  startServer,
  storedReports,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";

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
