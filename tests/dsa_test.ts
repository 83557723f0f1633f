/**
 * Several servers on one PostgreSQL database (DSA), as real processes on 127.0.0.1: a client
 * moving between servers keeps its id and costs the second server no RSA operation (the shared
 * vault), a revocation recorded through the database is refused at every server, deploy refuses
 * a key a running server lacks, and an upload whose server went away finishes at the other one.
 */

import assert from "node:assert/strict";
import {
  admin,
  ADMIN_ENV,
  clientConnectionArgs,
  clientReport,
  clientStatus,
  computerIdOf,
  copyKeysByUsb,
  freePort,
  generateKey,
  postReport,
  registerSender,
  serverMetrics,
  type ServerProcess,
  setSettings,
  startServer,
  type TestSite,
  waitForStored,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { type PostgresSite, postgresSite, postgresTest, query } from "./postgres_site.ts";
import { RoleProcess, type RoleResult, runRole } from "./run_role.ts";

const test = postgresTest;

/** The second server's site: its own data dir and port, the same database. */
function secondServer(site: TestSite): TestSite {
  return { ...site, serverDir: `${site.root}/server-b`, serverPort: freePort() };
}

/** Starts a server named `name` on the shared database. */
function startNamed(site: TestSite, serverArgs: string[], name: string): Promise<ServerProcess> {
  return startServer(site, [
    ...serverArgs,
    "--server-name",
    name,
    "--server-url",
    `http://127.0.0.1:${site.serverPort}`,
  ]);
}

/** Servers "a" and "b" of the site on its database, both running until the scope ends. */
async function startServersAAndB(
  database: PostgresSite,
): Promise<
  { site: TestSite; siteB: TestSite; a: ServerProcess; b: ServerProcess } & AsyncDisposable
> {
  const { site, serverArgs } = database;
  const siteB = secondServer(site);
  await using stack = new AsyncDisposableStack();
  const a = stack.use(await startNamed(site, serverArgs, "a"));
  const b = stack.use(await startNamed(siteB, serverArgs, "b"));
  const owned = stack.move();
  return { site, siteB, a, b, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/** `mle-admin encryption deploy` for the site, then `extra` (e.g. `--force`), whatever its exit code. */
function deployEncryption(site: TestSite, extra: string[] = []): Promise<RoleResult> {
  return runRole("admin", [
    "encryption",
    "deploy",
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
    ...extra,
  ], { env: { ...ADMIN_ENV, ...site.adminEnv } });
}

test("a client moving between two servers keeps its id, both store its reports, and the second costs no RSA operation (shared vault)", async () => {
  await using database = await postgresSite();
  const { site, url, serverArgs } = database;
  const kid = await generateKey(site, true);
  const siteB = secondServer(site);
  await copyKeysByUsb(site, siteB.serverDir);
  await using a = await startNamed(site, serverArgs, "a");
  await using b = await startNamed(siteB, serverArgs, "b");
  const clientDir = `${site.root}/client`;
  let result = await clientReport(site, clientDir, site.serverPort, ["--property", "n=1"]);
  assert.equal(result.code, 0, result.stderr);
  const computerId = await computerIdOf(clientDir);
  assert.equal((await serverMetrics(a)).rsaPrivateOps, 1);
  // Server a seals the content key it unwrapped into the shared vault.
  await eventually(
    async () => (await serverMetrics(a)).contentKeyVault.stored >= 1 ? true : undefined,
    "server a's vault entry",
  );

  // The operator points the client at the other server.
  result = await clientReport(site, clientDir, siteB.serverPort, ["--property", "n=2"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(await computerIdOf(clientDir), computerId, "the client registered again");
  const stored = await waitForStored(site, computerId, 2);
  assert.deepEqual(stored.map((r) => [r.report.custom.n, r.encrypted, r.kid]), [
    ["1", true, kid],
    ["2", true, kid],
  ]);
  const metricsB = await serverMetrics(b);
  assert.equal(metricsB.rsaPrivateOps, 0, "server b unwrapped the content key again");
  assert.equal(metricsB.contentKeyVault.hits, 1);
  assert.equal((await query(url, "SELECT count(*)::int AS n FROM computers"))[0].n, 1);
});

test("a computer registered at one server is accepted at the other at once; revoked through the database, it is refused at both", async () => {
  await using database = await postgresSite();
  const { url } = database;
  await using servers = await startServersAAndB(database);
  const { site, siteB } = servers;
  const sender = await registerSender(site.serverPort);
  // Unknown to b's memory: looked up in the database, not refused until a reload.
  const first = await postReport(siteB.serverPort, await sender.report(1));
  assert.equal(first.status, 200, await first.text());
  const second = await postReport(site.serverPort, await sender.report(2));
  assert.equal(second.status, 200, await second.text());

  await admin(
    ["computers", "revoke", String(sender.computerId), "--site-key", site.siteKey],
    site.adminEnv,
  );
  let seq = 3;
  for (const port of [siteB.serverPort, site.serverPort]) {
    const refusal = await eventually(async () => {
      const response = await postReport(port, await sender.report(seq++));
      const body = await response.json();
      return response.status === 403 ? body : undefined;
    }, `the revocation in force at port ${port}`);
    assert.equal(refusal.error.code, "ERR_COMPUTER_REVOKED");
  }
  const stored = await query(url, "SELECT seq FROM reports ORDER BY seq");
  assert.deepEqual(stored.map((row) => Number(row.seq)), [1, 2]);
});

test("deploy refuses a key a running server lacks, naming it and the import to run, and deploys once it holds it", async () => {
  await using database = await postgresSite();
  await using servers = await startServersAAndB(database);
  const { site, siteB } = servers;
  const status = () => encryptionStatus(site);
  const kid = await generateKey(site, false);
  // Server a reads its data dir every two seconds: the test begins once it has the new key.
  await eventually(async () => holdersOf(await status(), kid).includes("a") || undefined, "a");
  const refused = await deployEncryption(site);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /ERR_KEY_NOT_ON_SERVER/);
  assert.match(
    refused.stderr,
    new RegExp(`running server\\(s\\) b \\(http://127\\.0\\.0\\.1:${siteB.serverPort}\\)`),
  );
  assert.match(refused.stderr, /hint: .*mle-admin encryption import --from DIR/);
  assert.doesNotMatch(refused.stderr, /running server\(s\) a /);
  assert.equal((await status()).pendingKid, kid, "the refused deploy changed the key's role");
  assert.deepEqual(holdersOf(await status(), kid), ["a"]);

  // The USB transfer to server b; it loads the key within a poll, and the deploy goes through.
  await copyKeysByUsb(site, siteB.serverDir);
  const deployed = await deployEncryption(site);
  assert.equal(deployed.code, 0, deployed.stderr);
  const after = await status();
  assert.equal(after.currentKid, kid);
  assert.deepEqual(holdersOf(after, kid), ["a", "b"]);
});

/** What `mle-admin encryption status --json` shows of the site. */
async function encryptionStatus(site: TestSite) {
  return JSON.parse((await admin(["encryption", "status", "--json"], site.adminEnv)).stdout);
}

/** The names of the servers `mle-admin encryption status --json` shows holding key `kid`. */
function holdersOf(
  status: { keys: Array<{ kid: string; servers: Array<{ name: string }> }> },
  kid: string,
): string[] {
  return status.keys.find((key) => key.kid === kid)?.servers.map((server) => server.name) ?? [];
}

test("a stopped server no longer counts, and --force deploys over a running server that lacks the key", async () => {
  await using database = await postgresSite();
  await using servers = await startServersAAndB(database);
  const { site, b } = servers;
  const kid = await generateKey(site, false);
  const forced = await deployEncryption(site, ["--force"]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /warning: .*ERR_KEY_NOT_ON_SERVER.*deploying anyway \(--force\)/);
  await b.stop();
  // The next key: only the running server a counts now.
  const next = await generateKey(site, false);
  assert.notEqual(next, kid);
  await eventually(
    async () => holdersOf(await encryptionStatus(site), next).includes("a") || undefined,
    "server a to hold the next key",
  );
  const deployedNext = await deployEncryption(site);
  assert.equal(deployedNext.code, 0, deployedNext.stderr);
});

interface ListedUpload {
  uploadId: string;
  state: string;
  sha256: string;
  server: string | null;
  storedName: string | null;
  computerId: number;
}

test("an upload whose server went away restarts at the other server and is stored there once, its SHA-256 matching", async () => {
  await using database = await postgresSite();
  const { site, serverArgs } = database;
  await generateKey(site, true);
  const siteB = secondServer(site);
  await copyKeysByUsb(site, siteB.serverDir);
  await setSettings(site, "all", [
    "_BESClient_UploadManager_ChunkSize=4096",
    "_BESClient_UploadManager_ThrottleKBPS=64",
  ]);
  await using a = await startNamed(site, serverArgs, "a");
  await using _b = await startNamed(siteB, serverArgs, "b");
  const clientDir = `${site.root}/client`;
  const connection = (port: number) => [
    ...clientConnectionArgs(site, clientDir, port),
    "--encryption",
    "required",
  ];
  const listUploads = async (): Promise<ListedUpload[]> =>
    JSON.parse((await admin(["uploads", "list", "--json"], site.adminEnv)).stdout);
  const report = await clientReport(site, clientDir, site.serverPort, [
    "--encryption",
    "required",
  ]);
  assert.equal(report.code, 0, report.stderr);
  const file = `${site.root}/failover.bin`;
  const bytes = new Uint8Array(256 * 1024);
  for (let i = 0; i < bytes.length; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65536));
  }
  await Deno.writeFile(file, bytes);
  const sha256 = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();

  await using uploader = new RoleProcess("client", [
    "upload",
    file,
    "--wait",
    ...connection(site.serverPort),
  ]);
  const uid = await eventually(async () => {
    const [upload] = (await clientStatus(clientDir)).uploads as Array<
      { acknowledged: number; uploadId: string }
    >;
    return upload?.acknowledged >= 10 ? upload.uploadId : undefined;
  }, "the first chunks at server a");
  // Server a goes away mid-upload, and the client with it.
  await a.stop("SIGKILL");
  await uploader.stop("SIGKILL");
  const [midway] = await listUploads();
  assert.deepEqual([midway.uploadId, midway.state, midway.server], [uid, "receiving", "a"]);

  // The operator points the client at server b: it starts the file over there.
  await eventually(
    async () => {
      await runRole("client", ["report", ...connection(siteB.serverPort)]);
      const [listed] = await listUploads();
      return listed?.state === "complete" ? true : undefined;
    },
    "the upload stored at server b",
    90_000,
  );
  const uploads = await listUploads();
  assert.equal(uploads.length, 1);
  assert.deepEqual(
    [uploads[0].uploadId, uploads[0].state, uploads[0].server, uploads[0].sha256],
    [uid, "complete", "b", sha256],
  );
  const stored = `${siteB.serverDir}/uploads/${uploads[0].computerId}/${uploads[0].storedName}`;
  assert.deepEqual(await Deno.readFile(stored), bytes);
  await assert.rejects(
    Deno.stat(`${site.serverDir}/uploads/${uploads[0].computerId}/${uploads[0].storedName}`),
    Deno.errors.NotFound,
  );
  const [status] = (await clientStatus(clientDir)).uploads as Array<{ state: string }>;
  assert.equal(status.state, "complete");
});
