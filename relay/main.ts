/**
 * Entry of `mle-relay`: store and forward between clients (or child relays) and a parent.
 *
 * @module
 */

import { resolve as resolvePath } from "node:path";
import { EXIT } from "../cli/exit_codes.ts";
import { runCommand, UsageError } from "../cli/output.ts";
import { VERSION } from "../protocol/version.ts";
import { printRelayKey } from "./key_command.ts";
import { parseRunArgs, runRelay } from "./run_command.ts";
import { defaultRelayDataDir } from "../keystore/default_paths.ts";
import { installService, type RoleService, uninstallService } from "../service/service_command.ts";

/** Help of `mle-relay` itself. */
export const MAIN_HELP = `Usage: mle-relay <command> [options]

Stores and forwards between clients (or child relays) and a parent: the server or another relay.
It serves the same API as the server, never loses a report it acknowledged, and decrypts only
when told to (run --decrypt: a decrypting top-level relay, in memory, never to disk).

Commands:
  run         serve the API and forward accepted reports to the parent
  key         print this relay's public key (for --trust-relay on an authenticating parent)
  install-service [-- run OPTIONS]
              install "mle-relay run OPTIONS" as the BES Relay service (systemd, init.d,
              launchd or Windows); see "mle-relay install-service --help"
  uninstall-service
              remove the service install-service made

Options:
  -h, --help  show this help ("mle-relay run --help" for the command's options)
  --version   print the version

Examples:
  mle-relay run --parent http://server.example:52311 --data-dir /var/opt/mle-relay
  mle-relay run --parent http://server.example:52311 --authenticating --password-file FILE
  mle-relay run --help

Exit codes:
  0  done (or stopped by SIGTERM or SIGINT)
  1  failure (the message says why and what to do)
  2  misuse: unknown command or option, missing or bad value
`;

const TOOL = "mle-relay";

/** Runs the relay command line; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(TOOL, () => {
    const [command, ...rest] = args;
    switch (command) {
      case "-h":
      case "--help":
      case "help":
        console.log(MAIN_HELP);
        return Promise.resolve(EXIT.ok);
      case "--version":
        console.log(VERSION);
        return Promise.resolve(EXIT.ok);
      case "run":
        return runRelay(rest);
      case "key":
        return printRelayKey(rest);
      case "install-service":
        return installService(RELAY_SERVICE, rest);
      case "uninstall-service":
        return uninstallService(RELAY_SERVICE, rest);
      case undefined:
        throw new UsageError("Cannot run without a command", 'run "mle-relay --help"');
      default:
        throw new UsageError(
          `Cannot run unknown command "${command}"`,
          'the command is "run"; see "mle-relay --help"',
        );
    }
  });
}

/** The relay's service: its run options read by the same parser as "mle-relay run". */
const RELAY_SERVICE: RoleService = {
  role: "relay",
  tool: TOOL,
  readRunOptions(args, os) {
    const settings = parseRunArgs(args);
    if (settings === null) throw new UsageError("Cannot install --help as a service");
    const dataDirGiven = args.some((arg) => arg === "--data-dir" || arg.startsWith("--data-dir="));
    const dataDir = dataDirGiven ? settings.dataDir : RELAY_SERVICE.defaultDataDir(os);
    // A --log-file outside the data dir: its folder must be writable under the service too.
    const writablePaths = settings.log.file ? [resolvePath(settings.log.file)] : [];
    return Promise.resolve({ dataDir, writablePaths });
  },
  defaultDataDir: (os) => Deno.env.get("MLE_RELAY_DATA_DIR") ?? defaultRelayDataDir(os),
};

if (import.meta.main) Deno.exit(await main(Deno.args));
