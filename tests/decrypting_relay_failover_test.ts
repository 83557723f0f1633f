/**
 * A decrypting relay with two servers of one site (one PostgreSQL database) as parents, as real
 * processes on 127.0.0.1: its bundles go to the first; once the first is killed with SIGKILL, the
 * reports it took afterwards still go up in bundles, through the second, each stored once.
 */

import assert from "node:assert/strict";
import {
  clientReport,
  computerIdOf,
  deployKey,
  freePort,
  generateKeyForRelays,
  serverMetrics,
  startAllowedRelay,
  startServer,
  waitForCertificate,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { postgresSite, postgresTest, query, secondServerSite } from "./postgres_site.ts";

const name =
  "a decrypting relay whose first server is killed sends its bundles through the second: every report it took is stored once, in bundles";

postgresTest(name, async () => {
  await using database = await postgresSite();
  const { site, url: databaseUrl, serverArgs } = database;
  const relayDir = `${site.root}/relay`;
  const kid = await generateKeyForRelays(site, [relayDir]);
  const second = await secondServerSite(site);
  await using first = await startServer(site, serverArgs);
  await using other = await startServer(second, serverArgs);
  const relayPort = freePort();
  await using relay = await startAllowedRelay(site, relayDir, relayPort, site.serverPort, [
    "--parent",
    `http://127.0.0.1:${second.serverPort}`,
    "--decrypt",
    "--bundle-max",
    "4",
    "--bundle-wait-ms",
    "200",
  ]);
  const clientDir = `${site.root}/client`;
  await deployKey(site);
  await waitForCertificate(site, site.serverPort, kid);
  const report = async () => {
    const result = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
    assert.equal(result.code, 0, result.stderr);
  };

  // Both servers up: the relay's bundles go to the first.
  await report();
  await report();
  await eventually(
    async () => (await serverMetrics(first)).reportsInBundles >= 2 ? true : undefined,
    "two reports in bundles at the first server",
  );

  // The first is killed: what the relay takes from now on goes up through the second.
  await first.stop("SIGKILL");
  for (let i = 0; i < 3; i++) await report();
  const atSecond = await eventually(async () => {
    const metrics = await serverMetrics(other);
    return metrics.reportsInBundles >= 3 ? metrics : undefined;
  }, "three reports in bundles at the second server");
  assert.equal(atSecond.bundleReportsRefused, 0);

  const computerId = await computerIdOf(clientDir);
  const rows = await query(
    databaseUrl,
    `SELECT seq, encrypted FROM reports WHERE computer_id = ${computerId} ORDER BY seq`,
  );
  assert.deepEqual(rows.map((row) => Number(row.seq)), [1, 2, 3, 4, 5]);
  assert.ok(rows.every((row) => Boolean(row.encrypted)), JSON.stringify(rows));
  assert.match(relay.stderr, /bundle delivered/);
});
