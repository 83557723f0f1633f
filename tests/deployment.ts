/**
 * Test support: a whole deployment on loopback, made with the real admin tool and run as real
 * server and relay processes, with recording proxies on the wires.
 *
 * @module
 */

import { Spool } from "../relay/spool.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { signReport } from "../envelope/report_message.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { API } from "../protocol/paths.ts";
import { type RegistrationClaims, signRegistration } from "../protocol/registration.ts";
import { eventually } from "./eventually.ts";
import {
  derivePasswordKey,
  type PasswordKey,
  readKeyExchangeParameters,
} from "../protocol/key_exchange.ts";
import { readClientKey } from "../keystore/key_storage.ts";
import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { freePort, RoleProcess, type RoleResult, runRole } from "./run_role.ts";
import { RecordingProxy } from "./recording_proxy.ts";
import { POSTGRES_TEST_PASSWORD, sharedPrivatePostgres } from "./private_postgres.ts";
import { OPS_PATHS } from "../protocol/paths.ts";

/** The site password every test deployment uses (given through the environment, never argv). */
export const TEST_PASSWORD = "correct horse battery staple";
export const ADMIN_ENV = { MLE_SITE_PASSWORD: TEST_PASSWORD };
/** The password keys are sealed under for the USB transfer (`encryption export`/`import`). */
export const TRANSFER_PASSWORD = "a long transfer password";

/** Paths of a test site. */
export interface TestSite {
  root: string;
  serverDir: string;
  siteKey: string;
  masthead: string;
  serverPort: number;
  /**
   * Environment every admin call of the fixture adds (e.g. `MLE_DATABASE_URL` and its password
   * for a site whose store is PostgreSQL); absent for the data dir's SQLite store.
   */
  adminEnv?: Record<string, string>;
}

/** Runs the admin tool and fails the test with its output when it exits non-zero. */
export async function admin(
  args: string[],
  env: Record<string, string> = {},
): Promise<RoleResult> {
  const result = await runRole("admin", args, { env: { ...ADMIN_ENV, ...env } });
  if (result.code !== 0) {
    throw new Error(
      `mle-admin ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * The seed's USB transfer: exports the server's keys and imports them into another data dir (a
 * decrypting relay's); fails the test with the tool's output when either step fails.
 */
export async function copyKeysByUsb(
  site: TestSite,
  targetDir: string,
): Promise<{ exported: RoleResult; imported: RoleResult }> {
  const usb = `${site.root}/usb`;
  const env = { ...ADMIN_ENV, MLE_TRANSFER_PASSWORD: TRANSFER_PASSWORD, MLE_DATA_DIR: "" };
  const exported = await runRole("admin", [
    "encryption",
    "export",
    "--to",
    usb,
    "--data-dir",
    site.serverDir,
  ], { env: { ...env, ...site.adminEnv } });
  if (exported.code !== 0) throw new Error(`export exited ${exported.code}\n${exported.stderr}`);
  const imported = await runRole(
    "admin",
    ["encryption", "import", "--from", usb, "--data-dir", targetDir],
    { env },
  );
  if (imported.code !== 0) throw new Error(`import exited ${imported.code}\n${imported.stderr}`);
  await Deno.remove(usb, { recursive: true });
  return { exported, imported };
}

/**
 * Creates a site (site key, masthead, server data dir) in a new temporary folder; `adminEnv`
 * goes to every admin call of the fixture for this site.
 */
export async function createSite(adminEnv?: Record<string, string>): Promise<TestSite> {
  const root = await Deno.makeTempDir({ prefix: "mle-test-" });
  const serverPort = freePort();
  const site: TestSite = {
    root,
    serverDir: `${root}/server`,
    siteKey: `${root}/site/license.pvk`,
    masthead: `${root}/site/masthead.json`,
    serverPort,
    ...(adminEnv ? { adminEnv } : {}),
  };
  await Deno.mkdir(`${root}/site`, { mode: 0o700 });
  await admin([
    "init-site",
    "--data-dir",
    site.serverDir,
    "--site-key",
    site.siteKey,
    "--masthead",
    site.masthead,
    "--server-url",
    `http://127.0.0.1:${serverPort}`,
  ], adminEnv);
  return site;
}

/** A site whose store is a fresh database of the private PostgreSQL. */
export interface PostgresSite {
  site: TestSite;
  /** The database's URL (through the proxy when one was asked for). */
  url: string;
  /** What `mle-server run` adds: the URL and a password file (never the password on the line). */
  serverArgs: string[];
  /** With `throughProxy`: the TCP proxy the servers reach the database through (cut it). */
  proxy: RecordingProxy | null;
  cleanup(): Promise<void>;
}

/**
 * Creates a site on a fresh PostgreSQL database; `throughProxy` puts a TCP proxy between the
 * servers and the database, which a test cuts to split the network.
 */
export async function postgresSite(options: { throughProxy?: boolean } = {}): Promise<
  PostgresSite
> {
  const database = await sharedPrivatePostgres();
  const direct = await database.createDatabase();
  const proxy = options.throughProxy ? new RecordingProxy(database.port) : null;
  const url = proxy ? direct.replace(`:${database.port}/`, `:${proxy.port}/`) : direct;
  const site = await createSite({ MLE_DATABASE_URL: direct, PGPASSWORD: POSTGRES_TEST_PASSWORD });
  const passwordFile = `${site.root}/database-password`;
  await Deno.writeTextFile(passwordFile, POSTGRES_TEST_PASSWORD + "\n", { mode: 0o600 });
  return {
    site,
    url,
    serverArgs: ["--database", url, "--database-password-file", passwordFile],
    proxy,
    async cleanup() {
      await proxy?.close();
      await database.dropDatabase(direct);
      await Deno.remove(site.root, { recursive: true });
    },
  };
}

/**
 * A second server for a site on a shared database: its own data dir (a copy of the first's, with
 * its key files) and port.
 */
export async function secondServerSite(site: TestSite): Promise<TestSite> {
  const serverDir = `${site.serverDir}-2`;
  const copy = await new Deno.Command("cp", { args: ["-a", site.serverDir, serverDir] }).output();
  if (!copy.success) throw new Error(`cp failed: ${new TextDecoder().decode(copy.stderr)}`);
  return { ...site, serverDir, serverPort: freePort() };
}

/** Generates a 2048-bit MLE key with the seed's syntax; deploys it now or leaves it pending. */
export async function generateKey(site: TestSite, deployNow: boolean): Promise<string> {
  const result = await admin([
    "-reportencryption",
    "-generatekey",
    "-privateKeySize=min",
    `-deploynow=${deployNow ? "yes" : "no"}`,
    `-sitePvkLocation=${site.siteKey}`,
    "--data-dir",
    site.serverDir,
  ], site.adminEnv);
  const kid = /[0-9a-f]{40}/.exec(result.stdout)?.[0];
  if (!kid) throw new Error(`no key id in: ${result.stdout}`);
  return kid;
}

/** Deploys the pending key with the seed's syntax. */
export async function deployKey(site: TestSite): Promise<void> {
  await admin([
    "-reportencryption",
    "-deploynow=yes",
    `-sitePvkLocation=${site.siteKey}`,
    "--data-dir",
    site.serverDir,
  ], site.adminEnv);
}

/** A running server and the port of its operations listener (metrics, health). */
export type ServerProcess = RoleProcess & {
  readonly opsPort: number;
  /** The web console's base URL, or null when started with `--console-listen off`. */
  readonly consoleUrl: string | null;
};

const OPS_LISTENER_LINE = /operations listener on http:\/\/[^\s]*:(\d+)/;
const CONSOLE_LISTENER_LINE = /console listener on (https?:\/\/[^\s]*:\d+)/;

/**
 * Starts the server of a site on its port, with its operations listener on a free loopback port
 * that the server picks and logs (unless `extra` gives `--ops-listen`).
 */
export async function startServer(
  site: TestSite,
  extra: string[] = [],
): Promise<ServerProcess> {
  const ops = extra.includes("--ops-listen") ? [] : ["--ops-listen", "127.0.0.1:0"];
  const consoleArgs = extra.includes("--console-listen") ? [] : ["--console-listen", "127.0.0.1:0"];
  const server = new RoleProcess("server", [
    "run",
    "--data-dir",
    site.serverDir,
    "--listen",
    `127.0.0.1:${site.serverPort}`,
    ...ops,
    ...consoleArgs,
    ...extra,
  ]);
  await server.waitFor(OPS_LISTENER_LINE);
  await server.waitFor("listening on");
  const consoleUrl = CONSOLE_LISTENER_LINE.exec(server.stderr)?.[1] ?? null;
  return Object.assign(server, { opsPort: opsPortOf(server), consoleUrl });
}

/** The port of a server's or relay's operations listener, from the line its log names it in. */
export function opsPortOf(role: RoleProcess): number {
  const match = OPS_LISTENER_LINE.exec(role.stderr);
  if (!match) throw new Error(`no operations listener in:\n${role.stderr}`);
  return Number(match[1]);
}

/** GETs a path of an operations listener: its status and text. */
export async function opsGet(
  opsPort: number,
  path: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${opsPort}${path}`);
  return { status: response.status, text: await response.text() };
}

/**
 * The value of one sample in a Prometheus text exposition (`name{labels}` exactly as written,
 * or a bare name), or undefined when absent.
 */
export function metricValue(exposition: string, sample: string): number | undefined {
  for (const line of exposition.split("\n")) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}

/** What the tests read of the server's counters (`GET /api/v1/metrics` on its ops listener). */
export interface ServerMetrics {
  rsaPrivateOps: number;
  reportsStored: number;
  keysLoaded: number;
  bundlesOpened: number;
  reportsInBundles: number;
  bundleReportsRefused: number;
  contentKeyVault: { hits: number; misses: number; stored: number };
  contentKeySource: { failuresRemembered: number; refusedOverBudget: number; refusedBusy: number };
}

/** The server's counters, read from its operations listener. */
export async function serverMetrics(server: ServerProcess): Promise<ServerMetrics> {
  const response = await fetch(`http://127.0.0.1:${server.opsPort}${OPS_PATHS.metrics}`);
  if (response.status !== 200) {
    throw new Error(`metrics: HTTP ${response.status}: ${await response.text()}`);
  }
  return await response.json();
}

/**
 * Starts a relay whose parent is `parentPort`; given `--one-time-passwords`, waits until their
 * keys are derived (or `waitForOneTimePasswords` is false).
 */
export async function startRelay(
  dataDir: string,
  port: number,
  parentPort: number,
  extra: string[] = [],
  options: { env?: Record<string, string>; waitForOneTimePasswords?: boolean } = {},
): Promise<RoleProcess> {
  const relay = new RoleProcess("relay", [
    "run",
    "--data-dir",
    dataDir,
    "--listen",
    `127.0.0.1:${port}`,
    "--parent",
    `http://127.0.0.1:${parentPort}`,
    ...extra,
  ], options.env ?? {});
  await relay.waitFor("listening on");
  if ((options.waitForOneTimePasswords ?? true) && extra.includes("--one-time-passwords")) {
    await relay.waitFor("one-time passwords ready", 120_000);
  }
  return relay;
}

/**
 * The reports waiting in a relay's spool, exactly as received, read from its data dir without
 * changing anything (the relay may be running).
 */
export async function spooledMessages(relayDir: string): Promise<Uint8Array[]> {
  return (await Spool.waitingIn(relayDir)).map((message) => message.bytes);
}

/** The names of the files a relay set aside in `rejected/` (refused for good, with reasons). */
export async function rejectedFiles(relayDir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(`${relayDir}/rejected`))).map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/**
 * The flags that connect a client data dir to the site through the parent on `parentPort`, as
 * every client command of a test or script takes them.
 */
export function clientConnectionArgs(
  site: TestSite,
  clientDir: string,
  parentPort: number,
): string[] {
  return [
    "--data-dir",
    clientDir,
    "--masthead",
    site.masthead,
    "--parent",
    `http://127.0.0.1:${parentPort}`,
    "--host-identifier",
    "instance",
  ];
}

/** Runs `mle-client report` for a client data dir. */
export async function clientReport(
  site: TestSite,
  clientDir: string,
  parentPort: number,
  extra: string[] = [],
): Promise<RoleResult> {
  return await runRole("client", [
    "report",
    ...clientConnectionArgs(site, clientDir, parentPort),
    ...extra,
  ]);
}

/** Reads a client's status as JSON. */
export async function clientStatus(clientDir: string): Promise<Record<string, unknown>> {
  const result = await runRole("client", ["status", "--data-dir", clientDir, "--json"]);
  if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The part of a stored report the tests read. */
export interface StoredReportBody {
  computerId: number;
  custom: Record<string, string>;
  properties: Record<string, unknown>;
}

/** The reports the server stored for a computer, through the admin tool. */
export async function storedReports(
  site: TestSite,
  computerId: number,
): Promise<
  Array<{ seq: number; encrypted: boolean; kid: string | null; report: StoredReportBody }>
> {
  const result = await admin([
    "reports",
    "--computer",
    String(computerId),
    "--data-dir",
    site.serverDir,
    "--json",
  ], site.adminEnv);
  return JSON.parse(result.stdout);
}

/** A client's computer id, from its status; fails the test when it has none. */
export async function computerIdOf(clientDir: string): Promise<number> {
  const status = await clientStatus(clientDir);
  if (typeof status.computerId !== "number") {
    throw new Error(`client has no computer id: ${JSON.stringify(status)}`);
  }
  return status.computerId;
}

/** Waits until the server stored at least `count` reports of a computer; returns them. */
export async function waitForStored(site: TestSite, computerId: number, count: number) {
  return await eventually(async () => {
    const reports = await storedReports(site, computerId);
    return reports.length >= count ? reports : undefined;
  }, `${count} stored report(s) of computer ${computerId}`);
}

/** A sender registered by the test itself, which signs reports as a client would. */
export interface TestSender {
  computerId: number;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** A genuine signed clear-text report message (`POST /api/v1/reports` body) for `seq`. */
  report(seq: number, padding?: number): Promise<string>;
}

/**
 * Registers a new key with the server (or a plain relay) at `parentPort`, without a client
 * process, for tests that send many reports quickly. `padding` makes a report about that many
 * bytes larger.
 */
export async function registerSender(parentPort: number): Promise<TestSender> {
  const { privateKey, publicKey } = await generateSigningKeyPair();
  const publicKeyText = encodeBase64Url(await exportSigningPublicKey(publicKey));
  const registration = await signRegistration(privateKey, {
    publicKey: publicKeyText,
    hostIdentity: `test-sender:${crypto.randomUUID()}`,
    hostname: "test-sender",
    issuedAt: Date.now(),
  });
  const response = await fetch(`http://127.0.0.1:${parentPort}${API.register}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(registration),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`registration: ${JSON.stringify(body)}`);
  const computerId = body.computerId as number;
  return {
    computerId,
    privateKey,
    publicKey,
    report: async (seq, padding = 0) => {
      const report = {
        computerId,
        seq,
        createdAt: new Date().toISOString(),
        properties: { hostname: "test-sender" },
        custom: padding > 0 ? { padding: "x".repeat(padding) } : {},
        relevance: [],
        actionStatuses: [],
        analyses: [],
      };
      const bytes = new TextEncoder().encode(JSON.stringify(report));
      return JSON.stringify(
        await signReport(privateKey, { cid: computerId, seq, kid: null }, bytes),
      );
    },
  };
}

/**
 * The keys of `password` for the salts a relay publishes (`GET /api/v1/key-exchange`), as
 * `mle-client register` derives them, for tests that post registrations themselves.
 */
export async function passwordKeysFor(relayUrl: string, password: string): Promise<PasswordKey[]> {
  const answer = await fetch(`${relayUrl}${API.keyExchange}`);
  if (answer.status !== 200) throw new Error(`key-exchange parameters: HTTP ${answer.status}`);
  const { salts } = readKeyExchangeParameters(await answer.json());
  return await Promise.all(salts.map((salt) => derivePasswordKey(password, salt)));
}

/**
 * Posts a clear report signed with `key` claiming to come from `cid` straight to the server at
 * `port`: what someone holding an old or stolen client key can do.
 */
export async function postReportSignedAs(
  port: number,
  key: CryptoKey,
  cid: number,
  seq: number,
): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  const report = new TextEncoder().encode(JSON.stringify({
    computerId: cid,
    seq,
    createdAt: new Date().toISOString(),
    properties: {},
    custom: {},
    relevance: [],
    actionStatuses: [],
    analyses: [],
  }));
  const message = await signReport(key, { cid, seq, kid: null }, report);
  const response = await fetch(`http://127.0.0.1:${port}${API.reports}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
  return { status: response.status, body: await response.json() };
}

export { freePort, RecordingProxy };

/**
 * A client registered through `mle-client report`, as a test process can use it to send crafted
 * messages with the product's own sealing code: its computer id, its private key, and the server
 * key its verified certificate names.
 */
export interface RegisteredSender {
  cid: number;
  privateKey: CryptoKey;
  kid: string;
  serverPublicKey: CryptoKey;
}

/** Registers a client (one encrypted report through `parentPort`) and returns it as a sender. */
export async function registeredSender(
  site: TestSite,
  clientDir: string,
  parentPort: number,
): Promise<RegisteredSender> {
  const result = await clientReport(site, clientDir, parentPort, ["--encryption", "required"]);
  if (result.code !== 0) throw new Error(`client report exited ${result.code}\n${result.stderr}`);
  const key = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);
  const state = JSON.parse(await Deno.readTextFile(`${clientDir}/state.json`));
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)));
  const { certificate, publicKey } = await verifyEncryptionCertificate(
    siteKey,
    JSON.parse(state.certificate),
  );
  if (!publicKey) throw new Error("the client's certificate enables no encryption");
  return {
    cid: state.computerId as number,
    privateKey: key.privateKey,
    kid: (certificate as { kid: string }).kid,
    serverPublicKey: publicKey,
  };
}

/** Registers a fresh key with the server, claiming whatever `claims` says; returns the answer. */
export async function registerFreshKey(
  site: TestSite,
  claims: Omit<RegistrationClaims, "publicKey" | "issuedAt">,
): Promise<{ status: number; body: { computerId?: number; error?: { code: string } } }> {
  const keys = await generateSigningKeyPair();
  const registration = await signRegistration(keys.privateKey, {
    ...claims,
    publicKey: encodeBase64Url(await exportSigningPublicKey(keys.publicKey)),
    issuedAt: Date.now(),
  });
  const response = await fetch(`http://127.0.0.1:${site.serverPort}${API.register}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(registration),
  });
  return { status: response.status, body: await response.json() };
}
