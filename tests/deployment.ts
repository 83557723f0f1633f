/**
 * Test support: a whole deployment on loopback, made with the real admin tool and run as real
 * server and relay processes, with recording proxies on the wires.
 *
 * @module
 */

import { signReport } from "../envelope/report_message.ts";
import { API } from "../protocol/paths.ts";
import { freePort, RoleProcess, type RoleResult, runRole } from "./run_role.ts";
import { RecordingProxy } from "./recording_proxy.ts";

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
}

/** Runs the admin tool and fails the test with its output when it exits non-zero. */
export async function admin(args: string[]): Promise<RoleResult> {
  const result = await runRole("admin", args, { env: ADMIN_ENV });
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
  ], { env });
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

/** Creates a site (site key, masthead, server data dir) in a new temporary folder. */
export async function createSite(): Promise<TestSite> {
  const root = await Deno.makeTempDir({ prefix: "mle-test-" });
  const serverPort = freePort();
  const site: TestSite = {
    root,
    serverDir: `${root}/server`,
    siteKey: `${root}/site/license.pvk`,
    masthead: `${root}/site/masthead.json`,
    serverPort,
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
  ]);
  return site;
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
  ]);
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
  ]);
}

/** Starts the server of a site on its port. */
export async function startServer(site: TestSite, extra: string[] = []): Promise<RoleProcess> {
  const server = new RoleProcess("server", [
    "run",
    "--data-dir",
    site.serverDir,
    "--listen",
    `127.0.0.1:${site.serverPort}`,
    ...extra,
  ]);
  await server.waitFor("listening on");
  return server;
}

/** Starts a relay whose parent is `parentPort`. */
export async function startRelay(
  dataDir: string,
  port: number,
  parentPort: number,
  extra: string[] = [],
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
  ]);
  await relay.waitFor("listening on");
  return relay;
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
    "--data-dir",
    clientDir,
    "--masthead",
    site.masthead,
    "--parent",
    `http://127.0.0.1:${parentPort}`,
    "--host-identifier",
    "instance",
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
  ]);
  return JSON.parse(result.stdout);
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
