/**
 * Failover with real processes on 127.0.0.1: two servers on one PostgreSQL database, a relay and
 * clients with both as parents; one server killed with SIGKILL while they report (nothing lost,
 * nothing doubled), the client back on the first parent once it answers, `__RelayServer1`
 * re-homing a client centrally, the masthead's servers as the last resort, and a server cut off
 * from its database that keeps acknowledging known computers' reports into its local spool,
 * refuses registration with 503 and `Retry-After`, and drains exactly once when it returns.
 */

import assert from "node:assert/strict";
import { API, OPS_PATHS } from "../protocol/paths.ts";
import {
  clientReport,
  clientStatus,
  computerIdOf,
  freePort,
  generateKey,
  registerByReport,
  setSettings,
  startRelay,
  startRelayedSite,
  startServer,
  storedReports,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { postgresSite, postgresTest, query, secondServerSite } from "./postgres_site.ts";

async function reportRows(url: string): Promise<string[]> {
  const rows = await query(url, "SELECT computer_id, seq FROM reports ORDER BY computer_id, seq");
  return rows.map((row) => `${row.computer_id}/${row.seq}`);
}

/** The sequence numbers a client queued so far (its next one, minus one). */
async function reportsMade(clientDir: string): Promise<number> {
  const state = JSON.parse(await Deno.readTextFile(`${clientDir}/state.json`));
  return state.nextSeq - 1;
}

const url = (port: number) => `http://127.0.0.1:${port}`;

postgresTest(
  "kill -9 of one of two servers while a relay and clients report through it loses nothing and doubles nothing; the client returns to the first parent when it answers again",
  async () => {
    await using database = await postgresSite();
    const { site, url: databaseUrl, serverArgs } = database;
    await generateKey(site, true);
    const second = await secondServerSite(site);
    await using first = await startServer(site, serverArgs);
    await using _other = await startServer(second, serverArgs);
    const relayPort = freePort();
    await using _relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
      "--parent",
      url(second.serverPort),
    ]);
    const direct = `${site.root}/client-direct`;
    const relayed = `${site.root}/client-relayed`;
    const bothServers = ["--parent", url(second.serverPort)];
    const report = async (clientDir: string, parentPort: number, extra: string[] = []) => {
      const result = await clientReport(site, clientDir, parentPort, extra);
      assert.equal(result.code, 0, result.stderr);
    };
    for (let round = 0; round < 3; round++) {
      await Promise.all([
        report(direct, site.serverPort, bothServers),
        report(relayed, relayPort),
      ]);
    }
    const directId = await computerIdOf(direct);
    const relayedId = await computerIdOf(relayed);

    // Under load: both clients report while the first server is killed.
    const load = (async () => {
      for (let round = 0; round < 4; round++) {
        await Promise.all([
          report(direct, site.serverPort, bothServers),
          report(relayed, relayPort),
        ]);
      }
    })();
    await first.stop("SIGKILL");
    await load;
    const status = await clientStatus(direct);
    assert.equal(status.parent, url(second.serverPort), JSON.stringify(status));
    assert.match(String(status.parentWhy), /parent 2 of 2, because .* failing since/);

    // What the clients were told was delivered (every exit 0: the queue is empty) is stored once.
    for (const clientDir of [direct, relayed]) {
      assert.equal((await clientStatus(clientDir)).queueDepth, 0);
    }
    const expected = [
      ...Array.from({ length: await reportsMade(direct) }, (_, i) => `${directId}/${i + 1}`),
      ...Array.from({ length: await reportsMade(relayed) }, (_, i) => `${relayedId}/${i + 1}`),
    ].sort();
    const rows = await eventually(async () => {
      const rows = (await reportRows(databaseUrl)).sort();
      return rows.length >= expected.length ? rows : undefined;
    }, "every acknowledged report stored");
    assert.deepEqual(rows, expected);
    assert.equal((await storedReports(site, directId)).length, await reportsMade(direct));

    // The first answers again: the client goes back to it once its back-off is over.
    await using _firstAgain = await startServer(site, serverArgs);
    await eventually(async () => {
      await report(direct, site.serverPort, bothServers);
      return (await clientStatus(direct)).parent === url(site.serverPort) ? true : undefined;
    }, "the client back on the first parent");
    assert.match(String((await clientStatus(direct)).parentWhy), /parent 1 of 2: the first/);
    assert.equal(await computerIdOf(direct), directId, "the computer id stays");
    assert.deepEqual(
      (await reportRows(databaseUrl)).filter((row) => row.startsWith(`${directId}/`)).length,
      await reportsMade(direct),
    );
  },
);

Deno.test("the masthead's servers are the last resort, and __RelayServer1 re-homes a client centrally", async () => {
  await using deployment = await startRelayedSite();
  const { site, relayPort, relay } = deployment;
  const clientDir = `${site.root}/client`;
  const nothingListens = freePort();
  // Its only --parent does not answer: the masthead's server takes the report.
  const first = await clientReport(site, clientDir, nothingListens);
  assert.equal(first.code, 0, first.stderr);
  let status = await clientStatus(clientDir);
  assert.equal(status.parent, url(site.serverPort));
  assert.match(String(status.parentWhy), new RegExp(`${url(nothingListens)} failing since`));
  const computerId = await computerIdOf(clientDir);

  await setSettings(site, "all", [`__RelayServer1=${url(relayPort)}`]);
  // One cycle reads the signed setting; the next goes through the relay it names.
  for (let cycle = 0; cycle < 2; cycle++) {
    const result = await clientReport(site, clientDir, nothingListens);
    assert.equal(result.code, 0, result.stderr);
  }
  status = await clientStatus(clientDir);
  assert.equal(status.parent, url(relayPort), JSON.stringify(status));
  assert.match(String(status.parentWhy), /parent 1 of 3: the first/);
  assert.match(relay.stderr + "", /listening on/);
  assert.equal(await computerIdOf(clientDir), computerId);
  assert.equal((await storedReports(site, computerId)).length, 3);
});

postgresTest(
  "a server cut off from its database acknowledges known computers' reports into its local spool, refuses registration with 503 and Retry-After, and drains them exactly once when it returns",
  async () => {
    await using database = await postgresSite({ throughProxy: true });
    const { site, url: throughProxy, serverArgs, proxy } = database;
    await generateKey(site, true);
    await using server = await startServer(site, serverArgs);
    const clientDir = `${site.root}/client`;
    const metrics = async () =>
      await (await fetch(`http://127.0.0.1:${server.opsPort}${OPS_PATHS.metrics}`)).json();
    const computerId = await registerByReport(site, clientDir, site.serverPort);

    proxy!.cut();
    for (let n = 0; n < 3; n++) {
      const result = await clientReport(site, clientDir, site.serverPort);
      assert.equal(result.code, 0, result.stderr);
    }
    await server.waitFor("database unavailable");
    const spooled = [...Deno.readDirSync(`${site.serverDir}/database-outage`)];
    assert.ok(spooled.length >= 1, "acknowledged reports are on the server's disk");
    assert.equal((await metrics()).outageSpool.database, "unavailable");
    assert.equal((await metrics()).outageSpool.spooledReports, 3);

    const registration = await fetch(`${url(site.serverPort)}${API.register}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(registration.status, 503);
    assert.equal(registration.headers.get("retry-after"), "10");
    const refusal = await registration.json();
    assert.equal(refusal.error.code, "ERR_DATABASE_UNAVAILABLE");
    assert.match(refusal.error.message, /retry later/);

    proxy!.restore();
    await server.waitFor("database available again");
    const rows = await eventually(async () => {
      const rows = await reportRows(throughProxy);
      return rows.length >= 4 ? rows : undefined;
    }, "the spool drained");
    assert.deepEqual(rows, [1, 2, 3, 4].map((seq) => `${computerId}/${seq}`));
    assert.equal([...Deno.readDirSync(`${site.serverDir}/database-outage`)].length, 0);
    const after = await metrics();
    assert.equal(after.outageSpool.database, "available");
    assert.equal(after.outageSpool.drainedReports, 3);
    // And the next report is stored directly, once.
    const next = await clientReport(site, clientDir, site.serverPort);
    assert.equal(next.code, 0, next.stderr);
    assert.equal((await reportRows(throughProxy)).length, 5);
  },
);
