/**
 * Test support: the roles of a test site as real processes on loopback (the server, relays, the
 * client's commands), each run from source with exactly its compiled permissions.
 *
 * @module
 */

import { RecordingProxy } from "./recording_proxy.ts";
import { TamperingProxy } from "./tampering_proxy.ts";
import { describeResult, freePort, RoleProcess, type RoleResult, runRole } from "./run_role.ts";
import {
  admin,
  createSite,
  createSiteWithKey,
  type DisposableSite,
  type TestSite,
} from "./test_site.ts";

/** A running server and the port of its operations listener (metrics, health). */
export type ServerProcess = RoleProcess & {
  readonly opsPort: number;
  /** The web console's base URL, or null when started with `--console-listen off`. */
  readonly consoleUrl: string | null;
};

const OPS_LISTENER_LINE = /operations listener on http:\/\/[^\s]*:(\d+)/;
const CONSOLE_LISTENER_LINE = /console listener on (https?:\/\/[^\s]*:\d+)/;

/** The arguments of `mle-server run` for the site's server on its port, then `extra`. */
export function serverRunArgs(site: TestSite, extra: string[] = []): string[] {
  return [
    "run",
    "--data-dir",
    site.serverDir,
    "--listen",
    `127.0.0.1:${site.serverPort}`,
    ...extra,
  ];
}

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
  const server = new RoleProcess("server", serverRunArgs(site, [...ops, ...consoleArgs, ...extra]));
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

/** The arguments of `mle-relay run` for a relay on `port` whose parent is `parentPort`. */
export function relayRunArgs(
  dataDir: string,
  port: number,
  parentPort: number,
  extra: readonly string[] = [],
): string[] {
  return [
    "run",
    "--data-dir",
    dataDir,
    "--listen",
    `127.0.0.1:${port}`,
    "--parent",
    `http://127.0.0.1:${parentPort}`,
    ...extra,
  ];
}

/**
 * Starts a relay whose parent is `parentPort`; given `--one-time-passwords`, waits until their
 * keys are derived (or `waitForOneTimePasswords` is false).
 */
export async function startRelay(
  dataDir: string,
  port: number,
  parentPort: number,
  extra: readonly string[] = [],
  options: { env?: Record<string, string>; waitForOneTimePasswords?: boolean } = {},
): Promise<RoleProcess> {
  const relay = new RoleProcess(
    "relay",
    relayRunArgs(dataDir, port, parentPort, extra),
    options.env ?? {},
  );
  await relay.waitFor("listening on");
  if ((options.waitForOneTimePasswords ?? true) && extra.includes("--one-time-passwords")) {
    await relay.waitFor("one-time passwords ready", 120_000);
  }
  return relay;
}

/**
 * The flags of a decrypting relay that seals a bundle at four reports or after 200 ms and reads
 * the site's revocation list every second: for tests that watch a retired key stop decrypting.
 */
export const QUICK_DECRYPTING_RELAY_ARGS: readonly string[] = [
  "--decrypt",
  "--bundle-max",
  "4",
  "--bundle-wait-ms",
  "200",
  "--revocation-interval",
  "1",
];

/**
 * The flags of an authenticating relay that checks the shared password in `passwordFile`; the
 * password itself stays out of the process's arguments.
 */
export function authenticatingRelayArgs(passwordFile: string): string[] {
  return ["--authenticating", "--password-file", passwordFile];
}

/** The key a relay's data dir is trusted by (`mle-relay key`, made on first use); fails the test unless it exits 0. */
export async function relayKeyOf(relayDir: string): Promise<string> {
  const key = await runRole("relay", ["key", "--data-dir", relayDir]);
  if (key.code !== 0) throw new Error(`mle-relay key exited ${key.code}\n${key.stderr}`);
  return key.stdout.trim();
}

/**
 * Starts the authenticating relay `${site.root}/upper` on a free port below the server, checking
 * the password in `passwordFile` and trusting the relay below whose key is `trustedRelayKey`
 * (`--trust-relay`); the relay with its port.
 */
export async function startUpperRelay(
  site: TestSite,
  passwordFile: string,
  trustedRelayKey: string,
): Promise<RoleProcess & { readonly port: number }> {
  const port = freePort();
  const relay = await startRelay(`${site.root}/upper`, port, site.serverPort, [
    ...authenticatingRelayArgs(passwordFile),
    "--trust-relay",
    trustedRelayKey,
  ]);
  return Object.assign(relay, { port });
}

/** The flags of a relay that acts as one predating MLE: it refuses encrypted reports (415). */
export const PRE_MLE_RELAY_ARGS: readonly string[] = ["--no-encrypted-reports"];

/** A relay with a recording proxy on each of its wires (to its parent, and to its clients). */
export interface RecordedRelay extends AsyncDisposable {
  relay: RoleProcess;
  /** The relay's own port (the clients' side of it is {@linkcode RecordedRelay.downstream}). */
  relayPort: number;
  /** Between the relay and its parent. */
  upstream: RecordingProxy;
  /** Between the clients and the relay: the port the clients are given. */
  downstream: RecordingProxy;
}

/**
 * Starts a relay whose parent is `parentPort` with a recording proxy on each of its wires, to see
 * what crosses them; held with `await using`, the proxies and the relay stop at the scope's end.
 */
export async function startRecordedRelay(
  dataDir: string,
  parentPort: number,
  extra: string[] = [],
): Promise<RecordedRelay> {
  await using stack = new AsyncDisposableStack();
  const upstream = stack.use(new RecordingProxy(parentPort));
  const relayPort = freePort();
  const relay = stack.use(await startRelay(dataDir, relayPort, upstream.port, extra));
  const downstream = stack.use(new RecordingProxy(relayPort));
  const owned = stack.move();
  return {
    relay,
    relayPort,
    upstream,
    downstream,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/** The computer id a relay registered itself as (decrypting relays do at start), from its log. */
export async function relayComputerId(relay: RoleProcess): Promise<number> {
  await relay.waitFor(/registered as computer \d+/);
  return Number(/registered as computer (\d+)/.exec(relay.stderr)![1]);
}

/**
 * Allows the decrypting relay to send report bundles (`mle-admin relays allow`), once it has
 * registered; its computer id.
 */
export async function allowRelay(site: TestSite, relay: RoleProcess): Promise<number> {
  const relayId = await relayComputerId(relay);
  await admin([
    "relays",
    "allow",
    String(relayId),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ], site.adminEnv);
  return relayId;
}

/**
 * Starts a decrypting relay (`extra` holds its `--decrypt` and the other flags) whose parent is
 * `parentPort`, and allows it to send report bundles once it has registered (`mle-admin relays
 * allow`); the relay is stopped again when allowing it fails.
 */
export async function startAllowedRelay(
  site: TestSite,
  dataDir: string,
  port: number,
  parentPort: number,
  extra: readonly string[],
): Promise<RoleProcess> {
  await using stack = new AsyncDisposableStack();
  const relay = stack.use(await startRelay(dataDir, port, parentPort, extra));
  await allowRelay(site, relay);
  stack.move();
  return relay;
}

/** A site with its server and one relay running, as the relay tests open; see {@linkcode startRelayedSite}. */
export interface RelayedSite extends AsyncDisposable {
  readonly site: DisposableSite;
  readonly server: ServerProcess;
  /** The relay, with the server as its parent. */
  readonly relay: RoleProcess;
  readonly relayPort: number;
  /** The relay's data dir: `${site.root}/relay`. */
  readonly relayDir: string;
}

/**
 * Creates a site (with a deployed encryption key when `withKey`), starts its server and one relay
 * on a free port whose parent is the server, started with `relayArgs`; held with `await using`,
 * the relay, the server and then the site go at the scope's end.
 */
export async function startRelayedSite(
  options: { withKey?: boolean; relayArgs?: readonly string[] } = {},
): Promise<RelayedSite> {
  await using stack = new AsyncDisposableStack();
  const { site, server } = await useSiteAndServer(stack, options.withKey ?? false);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  const relay = stack.use(
    await startRelay(relayDir, relayPort, site.serverPort, options.relayArgs),
  );
  const owned = stack.move();
  return {
    site,
    server,
    relay,
    relayPort,
    relayDir,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/** A site with its server running behind a tampering proxy; see {@linkcode startSiteBehindProxy}. */
export interface ProxiedSite extends AsyncDisposable {
  readonly site: DisposableSite;
  readonly server: ServerProcess;
  /** In front of the server: the parent given to the clients or relays whose wire it tampers with. */
  readonly proxy: TamperingProxy;
}

/**
 * Creates a site (with a deployed encryption key when `withKey`), starts its server and a
 * tampering proxy in front of it; held with `await using`, the proxy, the server and then the site
 * go at the scope's end.
 */
export async function startSiteBehindProxy(
  options: { withKey?: boolean } = {},
): Promise<ProxiedSite> {
  await using stack = new AsyncDisposableStack();
  const { site, server } = await useSiteAndServer(stack, options.withKey ?? false);
  const proxy = stack.use(new TamperingProxy(site.serverPort));
  const owned = stack.move();
  return { site, server, proxy, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/** Creates a site (with a deployed key when `withKey`) and starts its server, both held by `stack`. */
async function useSiteAndServer(
  stack: AsyncDisposableStack,
  withKey: boolean,
): Promise<{ site: DisposableSite; server: ServerProcess }> {
  const site = stack.use(withKey ? await createSiteWithKey() : await createSite());
  return { site, server: stack.use(await startServer(site)) };
}

/**
 * The flags that tie a client data dir to the site (its masthead) and to this machine, without a
 * parent: `client register` takes the relay's URL as its argument instead.
 */
export function clientSiteArgs(site: TestSite, clientDir: string): string[] {
  return [
    "--data-dir",
    clientDir,
    "--masthead",
    site.masthead,
    "--host-identifier",
    "instance",
  ];
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
  return [...clientSiteArgs(site, clientDir), "--parent", `http://127.0.0.1:${parentPort}`];
}

/**
 * Runs the client command `command` (its name, then its own arguments) for a client data dir
 * connected to the site through the parent on `parentPort`, then `extra`.
 */
export async function runClientCommand(
  command: readonly string[],
  site: TestSite,
  clientDir: string,
  parentPort: number,
  extra: readonly string[] = [],
): Promise<RoleResult> {
  return await runRole("client", [
    ...command,
    ...clientConnectionArgs(site, clientDir, parentPort),
    ...extra,
  ]);
}

/** Runs `mle-client report` for a client data dir. */
export async function clientReport(
  site: TestSite,
  clientDir: string,
  parentPort: number,
  extra: string[] = [],
): Promise<RoleResult> {
  return await runClientCommand(["report"], site, clientDir, parentPort, extra);
}

/**
 * Runs `mle-client upload FILE --wait` for a client data dir (a minute at the most, unless `extra`
 * gives another `--timeout`), through the parent on `parentPort`.
 */
export async function clientUpload(
  site: TestSite,
  clientDir: string,
  parentPort: number,
  file: string,
  extra: string[] = [],
): Promise<RoleResult> {
  const command = ["upload", file, "--wait", "--timeout", "60"];
  return await runClientCommand(command, site, clientDir, parentPort, extra);
}

/**
 * Runs `mle-client report` for a client data dir through the parent on `parentPort`; fails the
 * test with the client's output unless it exits `expectedCode` (0 delivered, 4 try later …).
 */
export async function reportExpectingExit(
  expectedCode: number,
  site: TestSite,
  clientDir: string,
  parentPort: number,
  extra: string[] = [],
): Promise<RoleResult> {
  const result = await clientReport(site, clientDir, parentPort, extra);
  if (result.code !== expectedCode) {
    throw new Error(
      `the report exited ${result.code}, not ${expectedCode}\n${describeResult(result)}`,
    );
  }
  return result;
}

/** Reads a client's status as JSON. */
export async function clientStatus(clientDir: string): Promise<Record<string, unknown>> {
  const result = await runRole("client", ["status", "--data-dir", clientDir, "--json"]);
  if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
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

/**
 * A new client's first report (which registers it) through the parent on `parentPort`; fails the
 * test with the client's output unless it exits 0. The computer id the client registered as.
 */
export async function registerByReport(
  site: TestSite,
  clientDir: string,
  parentPort: number,
  extra: string[] = [],
): Promise<number> {
  await reportExpectingExit(0, site, clientDir, parentPort, extra);
  return await computerIdOf(clientDir);
}
