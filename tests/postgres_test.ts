/**
 * Servers on PostgreSQL, as real processes on 127.0.0.1 against a private PostgreSQL
 * (`private_postgres.ts`): end to end through a relay and across a restart, two servers
 * migrating a new database at once, the admin tool with only the database URL, and one report
 * sent to two servers stored once.
 */

import assert from "node:assert/strict";
import { POSTGRES_MIGRATIONS } from "../store/schema_migrations.ts";
import { API } from "../protocol/paths.ts";
import {
  ADMIN_ENV,
  clientReport,
  computerIdOf,
  deployKeyArgs,
  freePort,
  generateKey,
  postReport,
  registerSender,
  startRelay,
  startServer,
  waitForStored,
} from "./deployment.ts";
import { POSTGRES_TEST_PASSWORD } from "./private_postgres.ts";
import { postgresSite, postgresTest, query } from "./postgres_site.ts";
import { eventually } from "./eventually.ts";
import { runRole } from "./run_role.ts";

const test = postgresTest;

test("a server on PostgreSQL stores a client's reports sent through a relay, and keeps them across a restart", async () => {
  await using database = await postgresSite();
  const { site, url, serverArgs } = database;
  const kid = await generateKey(site, true);
  await using server = await startServer(site, serverArgs);
  const relayPort = freePort();
  await using _relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort);
  assert.match(server.stderr, /database=postgres:\/\/mle_test@127\.0\.0\.1/);
  assert.ok(!server.stderr.includes(POSTGRES_TEST_PASSWORD));
  // The SQLite file of the data dir is never created: the store is the database.
  await assert.rejects(Deno.stat(`${site.serverDir}/mle-server.db`), Deno.errors.NotFound);
  const clientDir = `${site.root}/client`;
  let result = await clientReport(site, clientDir, relayPort, ["--property", "n=1"]);
  assert.equal(result.code, 0, result.stderr);
  const computerId = await computerIdOf(clientDir);
  const first = await waitForStored(site, computerId, 1);
  assert.deepEqual([first[0].encrypted, first[0].kid, first[0].report.custom.n], [
    true,
    kid,
    "1",
  ]);
  const [row] = await query(url, "SELECT count(*)::int AS n FROM reports");
  assert.equal(row.n, 1);

  await server.stop();
  await using _restarted = await startServer(site, serverArgs);
  result = await clientReport(site, clientDir, relayPort, ["--property", "n=2"]);
  assert.equal(result.code, 0, result.stderr);
  const both = await waitForStored(site, computerId, 2);
  assert.deepEqual(both.map((r) => r.report.custom.n), ["1", "2"]);
  assert.equal((await query(url, "SELECT count(*)::int AS n FROM computers"))[0].n, 1);
});

test("two servers starting at once on a new database migrate it once, and both serve", async () => {
  await using database = await postgresSite();
  const { site, url, serverArgs } = database;
  // init-site migrated the database: start from an empty one so the servers race to migrate.
  await query(url, "DROP SCHEMA public CASCADE");
  await query(url, "CREATE SCHEMA public");
  const masthead = await Deno.readTextFile(site.masthead);
  const secondPort = freePort();
  await using servers = new AsyncDisposableStack();
  for (
    const server of await Promise.all([
      startServer(site, serverArgs),
      startServer({ ...site, serverPort: secondPort }, serverArgs),
    ])
  ) servers.use(server);
  const versions = await query(url, "SELECT version FROM schema_migrations ORDER BY version");
  assert.deepEqual(versions.map((row) => row.version), POSTGRES_MIGRATIONS.map((m) => m.version));
  for (const port of [site.serverPort, secondPort]) {
    const response = await fetch(`http://127.0.0.1:${port}${API.masthead}`);
    assert.equal(response.status, 200);
    assert.equal(JSON.stringify(await response.json()), JSON.stringify(JSON.parse(masthead)));
  }
});

test("the admin tool works with only the database URL: list, settings, relays, key deploy, migrate", async () => {
  await using database = await postgresSite();
  const { site, url, serverArgs } = database;
  await using _server = await startServer(site, serverArgs);
  await generateKey(site, false);
  const sender = await registerSender(site.serverPort);
  // Another host: no server data dir; the URL on the line, the password in the environment.
  const elsewhere = await Deno.makeTempDir({ prefix: "mle-admin-host-" });
  const env = {
    ...ADMIN_ENV,
    MLE_DATA_DIR: `${elsewhere}/none`,
    MLE_DATABASE_PASSWORD: POSTGRES_TEST_PASSWORD,
  };
  const run = async (args: string[]) => {
    const result = await runRole("admin", [...args, "--database", url], { env });
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    assert.ok(!result.stderr.includes(POSTGRES_TEST_PASSWORD));
    return result;
  };
  const listed = JSON.parse((await run(["computers", "list", "--json"])).stdout);
  assert.deepEqual(listed.map((c: { id: number }) => c.id), [sender.computerId]);
  await run([
    "settings",
    "set",
    "_BESClient_Report_Encryption=required",
    "--all",
    "--site-key",
    site.siteKey,
  ]);
  await run(["relays", "allow", String(sender.computerId), "--site-key", site.siteKey]);
  assert.match((await run(["relays", "list"])).stdout, new RegExp(`\\b${sender.computerId}\\b`));
  // The private key stays a file in the server's data dir; the deploy is recorded in the
  // database, where the server picks it up.
  await run(deployKeyArgs(site));
  const status = JSON.parse((await run(["encryption", "status", "--json"])).stdout);
  assert.equal(JSON.stringify(status).includes('"current"'), true, JSON.stringify(status));
  assert.match(
    (await run(["db", "migrate", "--dry-run"])).stdout,
    /is up to date: no migration pending/,
  );
  const settings = await query(url, "SELECT count(*)::int AS n FROM settings");
  assert.equal(settings[0].n, 1);
  await assert.rejects(Deno.stat(`${elsewhere}/none`), Deno.errors.NotFound);
  await Deno.remove(elsewhere, { recursive: true });
});

test("the same report sent to two servers on one database is stored once; the second answers 409 ERR_DUPLICATE_REPORT", async () => {
  await using database = await postgresSite();
  const { site, url, serverArgs } = database;
  const secondPort = freePort();
  await using _a = await startServer(site, serverArgs);
  await using _b = await startServer({ ...site, serverPort: secondPort }, serverArgs);
  const sender = await registerSender(site.serverPort);
  const body = await sender.report(1);
  const post = (port: number) => postReport(port, body);
  const first = await post(site.serverPort);
  assert.equal(first.status, 200, await first.text());
  // Server b learns of the computer registered through a within its directory's refresh.
  const second = await eventually(async () => {
    const response = await post(secondPort);
    if (response.status !== 403) return response;
    await response.body?.cancel();
    return undefined;
  }, "server b knowing the computer");
  assert.equal(second.status, 409);
  assert.equal((await second.json()).error.code, "ERR_DUPLICATE_REPORT");
  const rows = await query(url, "SELECT computer_id, seq FROM reports");
  assert.deepEqual(rows.map((r) => [Number(r.computer_id), Number(r.seq)]), [[
    sender.computerId,
    1,
  ]]);
});
