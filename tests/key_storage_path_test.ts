/**
 * A client's identity never forks by accident: the KeyStorage given once with `--storage-path` is
 * remembered, like `--parent`, with real processes on 127.0.0.1.
 */

import assert from "node:assert/strict";
import { pathExists } from "../keystore/secure_file.ts";
import { clientReport, clientStatus, createSite, startServer } from "./deployment.ts";
import { listComputers } from "./listed_computers.ts";

Deno.test("--storage-path given once is remembered: a later run without it keeps the same key and computer id", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const clientDir = `${site.root}/client`;
  const keyStorage = `${site.root}/elsewhere/KeyStorage`;
  const first = await clientReport(site, clientDir, site.serverPort, [
    "--storage-path",
    keyStorage,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const firstId = (await clientStatus(clientDir)).computerId as number;
  assert.ok(await pathExists(`${keyStorage}/client.pvk`));

  // The flag omitted once (seen: computer 11 turned into computer 12).
  const second = await clientReport(site, clientDir, site.serverPort);
  assert.equal(second.code, 0, second.stderr);
  const status = await clientStatus(clientDir);
  assert.equal(status.computerId, firstId);
  assert.equal(status.keyStoragePath, keyStorage);
  assert.equal(await pathExists(`${clientDir}/KeyStorage`), false, "no second KeyStorage");
  const computers = await listComputers(site);
  assert.deepEqual(computers.map((c) => c.id), [firstId], "no second computer");

  // A new --storage-path still wins, and says so.
  const moved = `${site.root}/moved`;
  const third = await clientReport(site, clientDir, site.serverPort, ["--storage-path", moved]);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stderr, new RegExp(`KeyStorage is now ${moved} \\(was ${keyStorage}\\)`));
  assert.equal((await clientStatus(clientDir)).keyStoragePath, moved);
});
