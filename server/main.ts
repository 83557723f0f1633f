/**
 * Entry of `mle-server`: parses flags, opens the store and keys, serves.
 *
 * @module
 */

import { resolve as resolvePath } from "node:path";
import { EXIT } from "../cli/exit_codes.ts";
import { parseFlags, readListenAddress, readPath } from "../cli/flags.ts";
import { LOG_OPTIONS, logOptionsHelp, openLogger, readLogSettings } from "../cli/log_options.ts";
import {
  DATABASE_OPTIONS,
  DATABASE_OPTIONS_HELP,
  resolveDatabase,
} from "../cli/database_option.ts";
import { CliError, printWarning, runCommand, UsageError } from "../cli/output.ts";
import { currentOs, defaultServerDataDir } from "../keystore/default_paths.ts";
import { installService, type RoleService, uninstallService } from "../service/service_command.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { DEFAULT_OPS_PORT, DEFAULT_PORT, OPS_PATHS } from "../protocol/paths.ts";
import { openStoreAt, redactDatabaseUrl } from "../store/mod.ts";
import { createServerApp } from "./app.ts";
import { BatchWriter } from "./batch_writer.ts";
import { DatabaseOutageSpool } from "./database_outage_spool.ts";
import { BundleIngest } from "./bundle_ingest.ts";
import { ClearTextPolicy } from "./clear_text_policy.ts";
import { ComputerDirectory } from "./computer_directory.ts";
import { DEFAULT_CONTENT_KEY_BUDGET, parseContentKeyBudget } from "./content_key_budget.ts";
import { ContentKeySource } from "./content_key_source.ts";
import { KeyRing } from "./key_ring.ts";
import { createOpsApp } from "./ops_app.ts";
import { CONSOLE_OPTIONS, CONSOLE_OPTIONS_HELP, startConsole } from "./console/console_setup.ts";
import { createMetricsRegistry } from "../ops/metrics.ts";
import { serveOpsListener } from "../ops/ops_app.ts";
import { VERSION } from "../protocol/version.ts";
import { serverIdentity, ServerRegistry } from "./server_registry.ts";
import { followStoreChanges } from "./store_changes.ts";
import { openServerUploads, UPLOAD_OPTIONS, UPLOAD_OPTIONS_HELP } from "./upload_setup.ts";
import { UploadFiles } from "./upload_store.ts";

const TOOL = "mle-server";
const DEFAULT_LISTEN = `0.0.0.0:${DEFAULT_PORT}`;
const DEFAULT_OPS_LISTEN = `127.0.0.1:${DEFAULT_OPS_PORT}`;

const HELP = `Usage: mle-server run [options]
       mle-server install-service [options] [-- run [options]]   (see install-service --help)
       mle-server uninstall-service [--data-dir DIR]

Runs the server: registers clients, serves the site's signed documents (masthead, encryption
certificate, settings), verifies, decrypts and stores reports in SQLite inside its data dir, or
in a PostgreSQL database that several servers share (--database). Keys deployed with mle-admin are
picked up within seconds, without a restart. Pending schema migrations are applied at start.
On a shared database that stops answering, the server goes on acknowledging the reports of
computers it already knows, written durably to DIR/database-outage/ first, and stores them once
the database returns; what needs the database (registration, settings, bundles, uploads) answers
503 ERR_DATABASE_UNAVAILABLE with Retry-After. The log and the operations listener's "database"
field say which state it is in.

Options:
  --data-dir DIR                 server data dir (env MLE_DATA_DIR; default ${defaultServerDataDir()})
${DATABASE_OPTIONS_HELP}
  --listen HOST:PORT             address clients and relays reach (default ${DEFAULT_LISTEN})
  --server-name NAME             this server's name among those sharing the database, recorded
                                 with the keys it holds and where uploads land (default
                                 HOSTNAME:PORT, from the environment's HOSTNAME or COMPUTERNAME,
                                 else the --listen host; give one per server when they share a
                                 database and listen on 0.0.0.0)
  --server-url URL               where clients reach this server, shown by mle-admin encryption
                                 status (default http://NAME)
  --ops-listen HOST:PORT         the operations listener: GET ${OPS_PATHS.prometheus} (Prometheus
                                 metrics), GET ${OPS_PATHS.health} (200 while running), GET
                                 ${OPS_PATHS.ready} (200 when the store answers and keys are loaded,
                                 else 503 with the reasons) and GET ${OPS_PATHS.metrics} (counters,
                                 JSON), served only there (default ${DEFAULT_OPS_LISTEN}: this host
                                 only); port 0 picks a free port, which the log names
  --accept-clear-from-required   accept clear-text reports and uploads from computers whose level
                                 is required (deployed setting, else last reported), which are
                                 refused by default (403 ERR_CLEAR_TEXT_REFUSED); for migrations
  --refuse-clear-from-required   accepted for old scripts and ignored: refusing is the default
  --content-key-budget N/UNIT    new content keys (each one RSA operation: reports, bundles, upload
                                 files) one computer may send per s, m, h or d; past it the answer
                                 is 429 ERR_TOO_MANY_NEW_KEYS with Retry-After and the sender keeps
                                 the message (default ${DEFAULT_CONTENT_KEY_BUDGET}: ten at once, then one every 6 min)
${logOptionsHelp("MLE_SERVER", { column: 33 })}
${CONSOLE_OPTIONS_HELP}
${UPLOAD_OPTIONS_HELP}
  -h, --help                     show this help

Examples:
  mle-server run --data-dir /var/opt/mle-server
  mle-server run --data-dir ./server --listen 127.0.0.1:52311 --accept-clear-from-required
  mle-server run --data-dir ./server --ops-listen 127.0.0.1:9100
  PGPASSWORD=… mle-server run --data-dir /var/opt/mle-server \\
    --database postgres://mle@db.example:5432/mle
  mle-server run --data-dir ./server --console-listen 0.0.0.0:8443 \\
    --console-tls-cert console.crt --console-tls-key console.key

Exit codes:
  0  stopped by SIGTERM or SIGINT
  1  could not start (the message says why; for example an address in use, a database that
     cannot be reached or whose schema is newer than this version: ERR_DATABASE_TOO_NEW)
  2  misuse of the command line
`;

/** Runs the server command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCommand(TOOL, async () => {
    if (args[0] === "install-service") return await installService(SERVER_SERVICE, args.slice(1));
    if (args[0] === "uninstall-service") {
      return await uninstallService(SERVER_SERVICE, args.slice(1));
    }
    const { values, positionals } = parse(args);
    if (values.help) {
      console.log(HELP);
      return EXIT.ok;
    }
    if (positionals[0] !== "run" || positionals.length > 1) {
      throw new UsageError(
        positionals.length === 0 ? "missing command" : `unknown command "${positionals.join(" ")}"`,
        'the command is "run"; see mle-server --help',
      );
    }
    return await run(values);
  });
}

/** The server's service: its run options read by the same parser as "mle-server run". */
const SERVER_SERVICE: RoleService = {
  role: "server",
  tool: TOOL,
  readRunOptions(args, os) {
    const { values, positionals } = parse(args);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    readListenAddress("listen", values.listen!);
    // A --log-file outside the data dir: its folder must be writable under the service too.
    const logFile = readLogSettings(values).file;
    const writablePaths = logFile ? [resolvePath(logFile)] : [];
    return Promise.resolve({ dataDir: dataDirOf(values, os), writablePaths });
  },
  defaultDataDir: (os) => Deno.env.get("MLE_DATA_DIR") ?? defaultServerDataDir(os),
};

function dataDirOf(values: ReturnType<typeof parse>["values"], os = currentOs()): string {
  return values["data-dir"] ??
    readPath("data-dir", Deno.env.get("MLE_DATA_DIR"), defaultServerDataDir(os));
}

/** The flags of `mle-server run` (and of the service it installs). */
const RUN_FLAGS = {
  "data-dir": { type: "string", path: true },
  listen: { type: "string", default: DEFAULT_LISTEN },
  "server-name": { type: "string" },
  "server-url": { type: "string" },
  "ops-listen": { type: "string", default: DEFAULT_OPS_LISTEN },
  "accept-clear-from-required": { type: "boolean", default: false },
  // The former opt-in, now the default: still accepted so that old unit files start.
  "refuse-clear-from-required": { type: "boolean", default: false },
  "content-key-budget": { type: "string", default: DEFAULT_CONTENT_KEY_BUDGET },
  ...LOG_OPTIONS,
  help: { type: "boolean", short: "h", default: false },
  ...UPLOAD_OPTIONS,
  ...DATABASE_OPTIONS,
  ...CONSOLE_OPTIONS,
} as const;

function parse(args: string[]) {
  return parseFlags(args, RUN_FLAGS, { positionals: true });
}

async function run(values: ReturnType<typeof parse>["values"]): Promise<number> {
  const logSettings = readLogSettings(values, (name) => Deno.env.get(name), "MLE_SERVER");
  const dataDir = dataDirOf(values);
  const listen = readListenAddress("listen", values.listen!);
  const opsListen = readListenAddress("ops-listen", values["ops-listen"]!);
  let identity;
  try {
    identity = serverIdentity(
      { name: values["server-name"], url: values["server-url"] },
      listen,
      { HOSTNAME: Deno.env.get("HOSTNAME"), COMPUTERNAME: Deno.env.get("COMPUTERNAME") },
    );
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (opsListen.port !== 0 && opsListen.port === listen.port) {
    throw new UsageError(
      `Cannot serve operations on the port clients reach (${listen.port})`,
      "give --ops-listen another port (default " + DEFAULT_OPS_LISTEN + ")",
    );
  }
  let budget;
  try {
    budget = parseContentKeyBudget(values["content-key-budget"]!);
  } catch (error) {
    throw new UsageError(`Cannot use --content-key-budget: ${(error as Error).message}`);
  }
  await ensurePrivateDir(dataDir);
  const log = openLogger(TOOL, logSettings);
  const database = await resolveDatabase(values, (message) => printWarning(TOOL, message));

  const store = await openStoreAt(dataDir, database, TOOL).catch((error) => {
    throw new CliError(error.message, {
      hint: database
        ? "check --database, the password (--database-password-file or PGPASSWORD) and that " +
          "the database server is reachable"
        : undefined,
    });
  });
  const masthead = await readMasthead(dataDir, await store.getDocument("masthead"));
  const keys = new KeyRing({ store, dataDir, log });
  await keys.refresh();
  const contentKeys = new ContentKeySource({ keys, budget });
  const computers = new ComputerDirectory(store);
  // SQLite: commits in a worker thread, so the fsync of each batch does not stop the event loop.
  // PostgreSQL: the client is asynchronous; each batch is one transaction over the pool.
  // On a shared database: reports of known computers are spooled locally while it is away.
  const outageSpool = database
    ? await DatabaseOutageSpool.open({ dataDir, store, log })
    : undefined;
  const writer = new BatchWriter(store, database ? { outageSpool } : { dataDir });
  const clearText = new ClearTextPolicy(store, !values["accept-clear-from-required"]);
  await clearText.refresh();
  const isClearTextRefused = clearText.isRefused.bind(clearText);
  const uploads = await openServerUploads(values, {
    dataDir,
    database,
    computers,
    contentKeys,
    serverName: identity.name,
    log,
    isClearTextRefused,
  });
  const ingest = { computers, keys, contentKeys, writer, isClearTextRefused, now: Date.now };
  const bundles = new BundleIngest({ store, ingest, log });
  const metrics = createMetricsRegistry("server", VERSION);
  const { registry } = metrics;
  const app = createServerApp({
    uploads: uploads.app,
    store,
    log,
    masthead,
    ingest,
    bundles,
    outageSpool,
    registry,
  });
  const ops = createOpsApp({
    store,
    keys,
    contentKeys,
    writer,
    bundles,
    log,
    registry,
    uploads: uploads.ingest,
    outageSpool,
  });

  if (
    database && values["server-name"] === undefined &&
    /^(0\.0\.0\.0|::|\[::\]):/.test(identity.name)
  ) {
    log.warn(
      `this server is named "${identity.name}", as every server listening on all addresses ` +
        "without a host name in the environment would be: give each server sharing the " +
        "database its own --server-name",
    );
  }
  const serverRegistry = new ServerRegistry({
    store,
    identity,
    loadedKids: () => keys.kids,
    unusableKids: () => keys.unusableKids,
    log,
  });
  await serverRegistry.start();
  const stopFollowing = await followStoreChanges({
    store,
    computers,
    keys,
    clearText,
    registry: serverRegistry,
    log,
  });

  // The operations listener first: once the public one says "listening on", both are up.
  const opsServer = serveOpsListener(opsListen, ops, log);
  const consoleServer = await startConsole(values, {
    store,
    keys,
    log,
    masthead,
    clientPort: listen.port,
    uploads: { records: uploads.records, files: new UploadFiles(dataDir) },
  });
  const server = Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    onListen: ({ hostname, port }) =>
      log.info(`listening on ${httpUrl(hostname, port)}`, {
        dataDir,
        ...(database ? { database: redactDatabaseUrl(database.url) } : {}),
        keys: keys.kids.length,
      }),
  }, app.fetch);

  const stop = () => {
    log.info("stopping");
    stopFollowing();
    server.shutdown();
    opsServer.shutdown();
    consoleServer?.shutdown();
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  await Promise.all([server.finished, opsServer.finished, consoleServer?.finished]);
  await writer.close();
  await outageSpool?.close();
  await uploads.close();
  await serverRegistry.stop().catch((error: unknown) =>
    log.warn("cannot record that this server stopped", { cause: (error as Error).message })
  );
  // The content keys unwrapped in the last moments, sealed, so the next start needs no RSA for them.
  await keys.flush().catch((error) =>
    log.warn("cannot keep sealed content keys", { cause: error.message })
  );
  store.close();
  metrics.close();
  log.close();
  return EXIT.ok;
}

function httpUrl(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

async function readMasthead(dataDir: string, stored: string | null): Promise<string> {
  if (stored) return stored;
  try {
    return await Deno.readTextFile(joinPath(dataDir, "masthead.json"));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  throw new CliError(`Cannot start: "${dataDir}" holds no masthead`, {
    hint:
      "create the site first: mle-admin init-site --data-dir DIR --site-key FILE --masthead FILE --server-url URL",
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
