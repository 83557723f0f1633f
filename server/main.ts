/**
 * Entry of `mle-server`: parses flags, opens the store and keys, serves.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EXIT } from "../cli/exit_codes.ts";
import { parseListenAddress } from "../cli/listen_address.ts";
import { createLogger, type LogLevel } from "../cli/log.ts";
import { CliError, runCommand, UsageError } from "../cli/output.ts";
import { currentOs, defaultServerDataDir } from "../keystore/default_paths.ts";
import { installService, type RoleService, uninstallService } from "../service/service_command.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { openStore } from "../store/mod.ts";
import { createServerApp } from "./app.ts";
import { BatchWriter } from "./batch_writer.ts";
import { clearTextPolicy } from "./clear_text_policy.ts";
import { ComputerDirectory } from "./computer_directory.ts";
import { KeyRing } from "./key_ring.ts";
import { openServerUploads, UPLOAD_OPTIONS, UPLOAD_OPTIONS_HELP } from "./upload_setup.ts";

const TOOL = "mle-server";

const HELP = `Usage: mle-server run [options]
       mle-server install-service [options] [-- run [options]]   (see install-service --help)
       mle-server uninstall-service [--data-dir DIR]

Runs the server: registers clients, serves the site's signed documents (masthead, encryption
certificate, settings), verifies, decrypts and stores reports in SQLite inside its data dir.
Keys deployed with mle-admin are picked up within seconds, without a restart.

Options:
  --data-dir DIR                 server data dir (env MLE_DATA_DIR; default ${defaultServerDataDir()})
  --listen HOST:PORT             address to listen on (default 0.0.0.0:52311)
  --accept-clear-from-required   accept clear-text reports and uploads from computers whose level
                                 is required (deployed setting, else last reported), which are
                                 refused by default (403 ERR_CLEAR_TEXT_REFUSED); for migrations
  --refuse-clear-from-required   accepted for old scripts and ignored: refusing is the default
  --log-level LEVEL              debug, info, warn or error (default info)
${UPLOAD_OPTIONS_HELP}
  -h, --help                     show this help

Examples:
  mle-server run --data-dir /var/opt/mle-server
  mle-server run --data-dir ./server --listen 127.0.0.1:52311 --accept-clear-from-required

Exit codes:
  0  stopped by SIGTERM or SIGINT
  1  could not start (the message says why)
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
    parseListenAddress(values.listen!);
    return Promise.resolve({ dataDir: dataDirOf(values, os), writablePaths: [] });
  },
  defaultDataDir: (os) => Deno.env.get("MLE_DATA_DIR") ?? defaultServerDataDir(os),
};

function dataDirOf(values: ReturnType<typeof parse>["values"], os = currentOs()): string {
  return values["data-dir"] ?? Deno.env.get("MLE_DATA_DIR") ?? defaultServerDataDir(os);
}

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        "data-dir": { type: "string" },
        listen: { type: "string", default: "0.0.0.0:52311" },
        "accept-clear-from-required": { type: "boolean", default: false },
        // The former opt-in, now the default: still accepted so that old unit files start.
        "refuse-clear-from-required": { type: "boolean", default: false },
        "log-level": { type: "string", default: "info" },
        help: { type: "boolean", short: "h", default: false },
        ...UPLOAD_OPTIONS,
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function run(values: ReturnType<typeof parse>["values"]): Promise<number> {
  const level = values["log-level"] as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(level)) {
    throw new UsageError(`unknown log level "${level}"`, "use debug, info, warn or error");
  }
  const log = createLogger(TOOL, level);
  const dataDir = dataDirOf(values);
  const listen = parseListenAddress(values.listen!);
  await ensurePrivateDir(dataDir);

  const store = openStore(dataDir);
  const masthead = await readMasthead(dataDir, await store.getDocument("masthead"));
  const keys = new KeyRing({ store, dataDir, log });
  await keys.refresh();
  const computers = new ComputerDirectory(store);
  // Commits in a worker thread, so the fsync of each batch does not stop the event loop.
  const writer = new BatchWriter(store, { dataDir });
  const isClearTextRefused = clearTextPolicy(store, !values["accept-clear-from-required"]);
  const uploads = await openServerUploads(values, {
    dataDir,
    computers,
    keys,
    log,
    isClearTextRefused,
  });
  const app = createServerApp({
    uploads: uploads.app,
    store,
    log,
    masthead,
    ingest: {
      computers,
      keys,
      writer,
      isClearTextRefused,
      now: Date.now,
    },
  });

  const refresher = setInterval(() => {
    keys.refresh().catch((error) => log.warn("key refresh failed", { cause: error.message }));
    computers.refresh().catch((error) =>
      log.warn("computer refresh failed", { cause: error.message })
    );
  }, 2_000);

  const server = Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    onListen: ({ hostname, port }) =>
      log.info(
        `listening on http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
        {
          dataDir,
          keys: keys.kids.length,
        },
      ),
  }, app.fetch);

  const stop = () => {
    log.info("stopping");
    clearInterval(refresher);
    server.shutdown();
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  await writer.close();
  await uploads.close();
  // The content keys unwrapped in the last moments, sealed, so the next start needs no RSA for them.
  await keys.flush().catch((error) =>
    log.warn("cannot keep sealed content keys", { cause: error.message })
  );
  store.close();
  return EXIT.ok;
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
