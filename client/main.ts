/**
 * Entry of `mle-client`: the agent on each endpoint.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EXIT } from "../cli/exit_codes.ts";
import { runCommand, UsageError } from "../cli/output.ts";
import { defaultClientDataDir, defaultKeyStoragePath } from "../keystore/default_paths.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { ENCRYPTION_LEVEL_SETTING, parseEncryptionLevel } from "../protocol/encryption_level.ts";
import { parseServerUrl } from "../protocol/masthead.ts";
import { checkSetting } from "../protocol/settings.ts";
import { Agent, type AgentOptions, type CycleResult, effectiveLevel } from "./agent.ts";
import { readState } from "./client_state.ts";
import type { LevelSource } from "./client_state.ts";
import { ReportQueue } from "./report_queue.ts";

const TOOL = "mle-client";

const HELP = `Usage: mle-client <command> [options]

The agent on each endpoint: keeps its key pair in KeyStorage, registers, signs every report and
encrypts it according to its encryption level, and queues it on disk while nothing upstream answers.

Commands:
  report     make one report and send everything queued (for cron)
  run        the same as a service, every --interval seconds
  status     show computer id, parent, encryption level and state, last failure, queue depth

Connection options (report, run):
  --data-dir DIR             client data dir (env MLE_CLIENT_DATA_DIR; default ${defaultClientDataDir()})
  --storage-path DIR         KeyStorage folder (default: DIR/KeyStorage with --data-dir, else
                             ${defaultKeyStoragePath()})
  --masthead FILE            the site's masthead (installed on first use)
  --parent URL               the relay or server to report to (remembered)
  --encryption LEVEL         required, optional or none (${ENCRYPTION_LEVEL_SETTING}); a value
                             deployed by the site replaces it
  --settings FILE            JSON file of client settings given at install time
  --property NAME=VALUE      a custom property (repeatable)
  --host-identifier KIND     machine (default) or instance
  --quiet                    print nothing but errors
  --interval SECONDS         (run) seconds between reports (default 900)

Status options:
  --data-dir DIR             as above
  --json                     print JSON

Examples:
  mle-client report --data-dir /var/opt/BESClient --masthead masthead.json \\
    --parent http://relay.example:52311 --encryption required --property Owner=ops
  mle-client run --interval 300
  mle-client status --json
  */15 * * * * /usr/local/bin/mle-client report --quiet

Exit codes:
  0  done: everything queued was delivered
  1  failed (the message says why)
  2  misuse of the command line
  3  nothing was sent: encryption is required and not possible now; reports stay queued
  4  the parent could not be reached; reports stay queued
`;

const OPTIONS = {
  "data-dir": { type: "string" },
  "storage-path": { type: "string" },
  masthead: { type: "string" },
  parent: { type: "string" },
  encryption: { type: "string" },
  settings: { type: "string" },
  property: { type: "string", multiple: true },
  "host-identifier": { type: "string", default: "machine" },
  quiet: { type: "boolean", default: false },
  interval: { type: "string", default: "900" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Runs the client command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCommand(TOOL, async () => {
    let parsed;
    try {
      parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help || positionals.length === 0 && args.length === 0) {
      console.log(HELP);
      return values.help ? EXIT.ok : EXIT.usage;
    }
    const [command, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    switch (command) {
      case "report":
        return await report(values, false);
      case "run":
        return await report(values, true);
      case "status":
        return await status(values);
      default:
        throw new UsageError(`unknown command "${command ?? ""}"`, "commands: report, run, status");
    }
  });
}

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>["values"];

function dataDirOf(values: Values): string {
  return values["data-dir"] ?? Deno.env.get("MLE_CLIENT_DATA_DIR") ?? defaultClientDataDir();
}

async function agentOptions(values: Values): Promise<AgentOptions> {
  const dataDir = dataDirOf(values);
  const keyStoragePath = values["storage-path"] ??
    (values["data-dir"] ? joinPath(dataDir, "KeyStorage") : defaultKeyStoragePath());
  if (values.parent) parseServerUrl(values.parent);
  const kind = values["host-identifier"];
  if (kind !== "machine" && kind !== "instance") {
    throw new UsageError(`unknown host identifier "${kind}"`, "use machine or instance");
  }
  let installLevel:
    | { level: ReturnType<typeof parseEncryptionLevel>; source: LevelSource }
    | undefined;
  if (values.settings) {
    const fileSettings = JSON.parse(await Deno.readTextFile(values.settings));
    const value = fileSettings?.[ENCRYPTION_LEVEL_SETTING];
    if (typeof value === "string") {
      installLevel = { level: parseEncryptionLevel(value), source: "settings file" };
    }
  }
  if (values.encryption) {
    installLevel = { level: parseEncryptionLevel(values.encryption), source: "command line" };
  }
  const quiet = values.quiet;
  return {
    dataDir,
    keyStoragePath,
    mastheadFile: values.masthead,
    parent: values.parent,
    installLevel,
    hostIdentifier: kind,
    say: (line) => {
      if (!quiet) console.error(`${TOOL}: ${line}`);
    },
  };
}

function customProperties(values: Values): Record<string, string> {
  const custom: Record<string, string> = {};
  for (const item of values.property ?? []) {
    const index = item.indexOf("=");
    if (index <= 0) throw new UsageError(`cannot read --property "${item}"`, "use NAME=VALUE");
    const name = item.slice(0, index);
    const value = item.slice(index + 1);
    checkSetting(name.replace(/[^A-Za-z0-9_]/g, "_"), value);
    custom[name] = value;
  }
  return custom;
}

async function report(values: Values, asService: boolean): Promise<number> {
  const custom = customProperties(values);
  const options = await agentOptions(values);
  const interval = Number(values.interval);
  if (!Number.isFinite(interval) || interval < 1) {
    throw new UsageError(
      `cannot use --interval "${values.interval}"`,
      "give a number of seconds ≥ 1",
    );
  }
  const agent = await Agent.open(options);
  if (!asService) {
    await agent.queueReport(custom);
    return exitCodeOf(await agent.cycle(), options);
  }
  let stopping = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopping = true;
    wake();
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  options.say(`running as a service, reporting every ${interval} s`);
  while (!stopping) {
    await agent.queueReport(custom);
    exitCodeOf(await agent.cycle(), options);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval * 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  options.say("stopped");
  return EXIT.ok;
}

function exitCodeOf(result: CycleResult, options: AgentOptions): number {
  switch (result.outcome) {
    case "delivered":
      options.say(`${result.message}`);
      return EXIT.ok;
    case "queued":
      console.error(`${TOOL}: error: ${result.message} (${result.queued} queued)`);
      console.error(
        `${TOOL}: hint: deploy an encryption key (mle-admin -reportencryption …) or use a relay that accepts encrypted reports`,
      );
      return EXIT.queued;
    case "unreachable":
      console.error(`${TOOL}: error: ${result.message} (${result.queued} queued)`);
      return EXIT.unreachable;
    default:
      console.error(`${TOOL}: error: ${result.message} (${result.queued} queued)`);
      return EXIT.failure;
  }
}

async function status(values: Values): Promise<number> {
  const dataDir = dataDirOf(values);
  const state = await readState(joinPath(dataDir, "state.json"));
  const level = effectiveLevel(state);
  const summary = {
    computerId: state.computerId,
    parent: state.parent,
    encryptionLevel: level.level,
    encryptionLevelSource: level.source,
    encryptingNow: state.encryptingNow,
    parentAcceptsEncrypted: state.parentAcceptsEncrypted,
    certificateKid: state.certificateKid,
    lastAttemptAt: state.lastAttemptAt,
    lastSuccessAt: state.lastSuccessAt,
    lastFailure: state.lastFailure,
    queueDepth: await new ReportQueue(dataDir).depth(),
  };
  if (values.json) {
    console.log(JSON.stringify(summary, null, 2));
    return EXIT.ok;
  }
  const line = (name: string, value: unknown) => console.log(`${name.padEnd(22)} ${value ?? "-"}`);
  line("Computer id", summary.computerId ?? "not registered");
  line("Parent", summary.parent);
  line("Encryption level", `${summary.encryptionLevel} (${summary.encryptionLevelSource})`);
  line("Encrypting now", summary.encryptingNow ? "yes" : "no");
  line(
    "Parent accepts MLE",
    summary.parentAcceptsEncrypted === null
      ? "unknown"
      : summary.parentAcceptsEncrypted
      ? "yes"
      : "no",
  );
  line("Certificate key id", summary.certificateKid ?? "none");
  line("Last attempt", summary.lastAttemptAt);
  line("Last success", summary.lastSuccessAt);
  line(
    "Last failure",
    summary.lastFailure ? `${summary.lastFailure.at} ${summary.lastFailure.message}` : "none",
  );
  line("Queued reports", summary.queueDepth);
  return EXIT.ok;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
