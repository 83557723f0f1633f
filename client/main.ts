/**
 * Entry of `mle-client`: the agent on each endpoint.
 *
 * @module
 */

import { resolve as resolvePath } from "node:path";
import { EXIT } from "../cli/exit_codes.ts";
import { parseFlags, readInteger } from "../cli/flags.ts";
import { type Logger, silentLogger } from "../cli/log.ts";
import { logOptionsHelp } from "../cli/log_options.ts";
import { newRequestId, runWithRequestId } from "../protocol/request_id.ts";
import { CLIENT_LOG_ROTATION, clientLogSettings, openClientRunLog } from "./run_log.ts";
import { runCommand, UsageError } from "../cli/output.ts";
import { defaultClientDataDir, defaultKeyStoragePath } from "../keystore/default_paths.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { ENCRYPTION_LEVEL_SETTING, parseEncryptionLevel } from "../protocol/encryption_level.ts";
import { parseServerUrl } from "../protocol/masthead.ts";
import { ALLOW_LEGACY_RELAYS_SETTING, checkSetting } from "../protocol/settings.ts";
import { Agent, type AgentOptions, type CycleResult } from "./agent.ts";
import { readState } from "./client_state.ts";
import type { LevelSource } from "./client_state.ts";
import { lockAgent } from "./agent_process.ts";
import { defaultServiceSettings } from "./restart_command.ts";
import { restartRunningAgent } from "./agent_restart_command.ts";
import {
  installService,
  readTargetOs,
  type RoleService,
  uninstallService,
} from "../service/service_command.ts";
import { rotateKeys } from "./rotate_keys.ts";
import { carryOutDirectedRotation } from "./directed_rotation.ts";
import { sendUploadsAfterCycle, UPLOAD_HELP, uploadCommand } from "./upload_command.ts";
import { keyExchangeHint } from "./key_exchange_hint.ts";
import { registerWithRelay, rewriteOriginalRegister } from "./key_exchange_command.ts";
import { currentOs, type TargetOs } from "../keystore/default_paths.ts";
import {
  CLIENT_FLAGS,
  type ClientFlagValues,
  dataDirOf,
  DEFAULT_INTERVAL_SECONDS,
} from "./client_flags.ts";
import { showStatus } from "./status_command.ts";
import { isReportDue, nextCycleDelay } from "./next_cycle_delay.ts";

const TOOL = "mle-client";

const HELP = `Usage: mle-client <command> [options]

The agent on each endpoint: keeps its key pair in KeyStorage, registers, signs every report and
encrypts it according to its encryption level, and queues it on disk while nothing upstream answers.

Commands:
  report     make one report and send everything queued (for cron)
  run        the same as a service, every --interval seconds (less up to 10 % jitter, so
             agents started together drift apart). After a cycle in which every parent was
             unreachable or busy (5xx, 429), it tries again sooner: a jittered back-off from
             5 s doubling per failed cycle up to --interval, never before a busy parent's
             Retry-After (which wins over a shorter --interval); a retry sends what is queued
             and makes no new report. The run log and "status" say when the next cycle is and
             why. SIGHUP (restart) and SIGTERM act at once
  status     show computer id, parent in use and why, encryption level and state, why reports are held, last
             failure, next cycle of the service and why, queue depth, the settings the site deployed
${UPLOAD_HELP.command}
  rotate-keys  new key pair and computer id (seed 002): delete KeyStorage, restart the agent;
             report and run also do this once when the site's signed rotation directive names
             the computer (mle-admin computers rotate-keys)
  -restart   restart the agent of --data-dir (as the original's -restart): through the service
             install-service made, else (not on Windows) the running "mle-client run" directly
  install-service [-- run OPTIONS]
             install "mle-client run OPTIONS" as the BES Client service (systemd, init.d,
             launchd or Windows); see "mle-client install-service --help"
  uninstall-service
             remove the service install-service made
  register [RELAY_URL]
             the manual key exchange with an authenticating relay: register through it with its
             password and print the computer id (RELAY_URL: default --parent, else the remembered
             parent, which it becomes)
  -register PASSWORD RELAY_URL
             the same, in the original's form (the password is then visible in the process list)

Connection options (report, run):
  --data-dir DIR             client data dir (env MLE_CLIENT_DATA_DIR; default ${defaultClientDataDir()})
  --storage-path DIR         KeyStorage folder (remembered: later runs without it use the same
                             one; default: DIR/KeyStorage with --data-dir, else
                             ${defaultKeyStoragePath()})
  --masthead FILE            the site's masthead (installed on first use)
  --parent URL               the relay or server to report to; repeat for the next ones to try
                             when it fails (remembered). Before them come the site's
                             __RelayServer1 and __RelayServer2 settings, after them the
                             masthead's servers. A failing parent is given up after the site's
                             _BESClient_RelaySelect_ResistFailureIntervalSeconds (default 0), the
                             next tried, the first again once it answers (jittered back-off);
                             the computer id stays
  --encryption LEVEL         required, optional (default) or none (${ENCRYPTION_LEVEL_SETTING});
                             a value deployed by the site replaces it. optional sends clear text
                             only while the site has no enabled encryption certificate: once it
                             holds one, a parent that does not take encrypted reports gets
                             nothing (exit 3) unless the site signed
                             ${ALLOW_LEGACY_RELAYS_SETTING}=1 (mle-admin settings set)
  --settings FILE            JSON file of client settings given at install time
  --property NAME=VALUE      a custom property (repeatable)
  --host-identifier KIND     machine (default) or instance
  --quiet                    print nothing but errors
  --interval SECONDS         (run) seconds between reports, 1 to 604800 (default ${DEFAULT_INTERVAL_SECONDS});
                             also the longest wait between retries while the parents fail

Rotation options (rotate-keys; also the connection options above):
  --compromised              trust no hand-over: the new key claims to replace the old computer
                             id and is flagged; the old id stays valid until the operator runs
                             mle-admin computers confirm NEW (which revokes it)
  --dry-run                  print exactly what would be deleted and run, change nothing
  --os OS                    with --dry-run: windows, macos, aix, hpux, solaris or linux
  --no-restart               delete KeyStorage and leave the restart to the operator
                             The restart uses the service install-service made (its record in
                             the data dir); the next three options apply only without one
  --service-name NAME        the agent's Windows service and systemd unit (default "BES Client"
                             on Windows, else besclient)
  --agent-path PATH          the agent executable, for macOS's "<agent> -restart"
  --init-script PATH         an init script instead of the platform's documented one
  --root DIR                 the service was installed with install-service --root DIR

Key exchange options (register; also the connection options above):
  --password PASSWORD        the relay's password (visible in the process list: prefer the next)
  --password-file FILE       read it from the first line of FILE
                             (else env MLE_RELAY_PASSWORD, else a prompt on the terminal)
  --json                     print {"computerId": N, "relay": URL}

${UPLOAD_HELP.options}

Status options:
  --data-dir DIR             as above
  --json                     print JSON

Log options (report, run, upload, register, rotate-keys; status names the file):
${
  logOptionsHelp("MLE_CLIENT", {
    file: "DIR/logs/mle-client.log",
    rotation: CLIENT_LOG_ROTATION,
    column: 29,
  })
}

Examples:
  mle-client report --data-dir /var/opt/BESClient --masthead masthead.json \\
    --parent http://relay.example:52311 --encryption required --property Owner=ops
  mle-client run --interval 300
  mle-client status --json
  mle-client rotate-keys --dry-run --os aix
  mle-client install-service -- run --data-dir /var/opt/BESClient --parent http://relay.example:52311
  mle-client rotate-keys --compromised
  mle-client register --password-file relay-password.txt http://relay.example:52311
  mle-client -register PASSWORD http://relay.example:52311
${UPLOAD_HELP.example}
  */15 * * * * /usr/local/bin/mle-client report --quiet

Exit codes:
  0  done: everything queued was delivered
  1  failed (the message says why)
  2  misuse of the command line
  3  nothing was sent: encryption is required and not possible now, or the site enabled
     encryption and the parent does not take encrypted reports; reports and uploads stay queued
  4  the parent could not be reached; reports stay queued
`;

/** Runs the client command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCommand(TOOL, async () => {
    if (args[0] === "-restart") return await restartRunningAgent(args.slice(1));
    if (args[0] === "install-service") return await installService(CLIENT_SERVICE, args.slice(1));
    if (args[0] === "uninstall-service") {
      return await uninstallService(CLIENT_SERVICE, args.slice(1));
    }
    args = rewriteOriginalRegister(args);
    const { values, positionals } = parseFlags(args, CLIENT_FLAGS, { positionals: true });
    if (values.help || positionals.length === 0 && args.length === 0) {
      console.log(HELP);
      return values.help ? EXIT.ok : EXIT.usage;
    }
    const [command, ...extra] = positionals;
    // `register` takes the relay's URL; no other command takes an argument.
    const allowed = command === "register" || command === "upload" ? 1 : 0;
    if (extra.length > allowed) throw new UsageError(`unexpected argument "${extra[allowed]}"`);
    if (command === "status") return await showStatus(values);
    if (!["report", "run", "rotate-keys", "upload", "register"].includes(command)) {
      throw new UsageError(`unknown command "${command ?? ""}"`, "commands: report, run, status");
    }
    return await withRunLog(values, command, () => runLogged(command, values, extra));
  });
}

/**
 * The run log of this process (`client/run_log.ts`): one command per process, so one log, set
 * by {@linkcode withRunLog} before the command runs.
 */
let runLog: Logger = silentLogger;

/** Opens the run log, says what runs and how it ended, whatever the outcome. */
async function withRunLog(
  values: ClientFlagValues,
  command: string,
  work: () => Promise<number>,
): Promise<number> {
  const dataDir = dataDirOf(values);
  const log = await openClientRunLog(clientLogSettings(values, dataDir), dataDir);
  runLog = log;
  const started = performance.now();
  log.info(`${command} started`, { dataDir, parent: values.parent });
  try {
    const code = await work();
    log[code === EXIT.ok ? "info" : "warn"](`${command} finished`, {
      exitCode: code,
      seconds: Math.round(performance.now() - started) / 1000,
    });
    return code;
  } catch (error) {
    log.error(`${command} failed`, { cause: (error as Error).message });
    throw error;
  } finally {
    log.close();
    runLog = silentLogger;
  }
}

async function runLogged(
  command: string,
  values: ClientFlagValues,
  extra: string[],
): Promise<number> {
  switch (command) {
    case "report":
      return await report(values, false);
    case "run":
      return await report(values, true);
    case "rotate-keys":
      return await rotate(values);
    case "upload":
      return await uploadCommand({
        agent: await agentOptions(values),
        file: extra[0],
        name: values.name,
        wait: values.wait,
        timeout: values.timeout,
        quiet: values.quiet,
      });
    case "register":
      return await registerWithRelay({
        agent: await agentOptions(values),
        relayUrl: extra[0],
        password: values.password,
        passwordFile: values["password-file"],
        json: values.json,
      });
    default:
      throw new UsageError(`unknown command "${command}"`, "commands: report, run, status");
  }
}

/** The client's service: its run options read by the same parser as "mle-client run". */
const CLIENT_SERVICE: RoleService = {
  role: "client",
  tool: TOOL,
  async readRunOptions(args, os) {
    const { values } = parseFlags(args, CLIENT_FLAGS);
    const options = await agentOptions(values, os);
    // A --log-file outside the data dir: its folder must be writable under the service too.
    const logFile = values["log-file"] ? [resolvePath(values["log-file"])] : [];
    return { dataDir: options.dataDir, writablePaths: [options.keyStoragePath, ...logFile] };
  },
  defaultDataDir: (os) => Deno.env.get("MLE_CLIENT_DATA_DIR") ?? defaultClientDataDir(os),
};

async function agentOptions(
  values: ClientFlagValues,
  os: TargetOs = currentOs(),
): Promise<AgentOptions> {
  const dataDir = dataDirOf(values, os);
  // Remembered like --parent: omitting the flag once must not make a second key and computer.
  const given = values["storage-path"];
  const keyStoragePath = (given === undefined ? undefined : resolvePath(given)) ??
    (await readState(joinPath(dataDir, "state.json"))).keyStoragePath ??
    (values["data-dir"] ? joinPath(dataDir, "KeyStorage") : defaultKeyStoragePath(os));
  for (const parent of values.parent ?? []) parseServerUrl(parent);
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
    parents: values.parent,
    installLevel,
    hostIdentifier: kind,
    say: (line) => {
      runLog.info(line);
      if (!quiet) console.error(`${TOOL}: ${line}`);
    },
  };
}

function customProperties(values: ClientFlagValues): Record<string, string> {
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

async function report(values: ClientFlagValues, asService: boolean): Promise<number> {
  const custom = customProperties(values);
  const options = await agentOptions(values);
  const interval = readInteger("interval", values.interval, DEFAULT_INTERVAL_SECONDS, {
    min: 1,
    max: 604_800,
    unit: "seconds",
  });
  // One service per data dir: take its lock before touching the state.
  // Waits (bounded) while a rotate-keys changes the key, then loads the new one.
  const lock = asService ? await lockAgent(options.dataDir, 30_000) : null;
  let agent = await Agent.open(options);
  if (!asService) {
    await agent.queueReport(custom);
    let cycle = await cycleWithRequestId(agent);
    ({ agent, cycle } = await carryOutDirectedRotation(agent, options) ?? { agent, cycle });
    return await sendUploadsAfterCycle(agent, options, exitCodeOf(cycle, options));
  }
  let stopping = false;
  let restarting = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopping = true;
    wake();
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") {
    Deno.addSignalListener("SIGTERM", stop);
    // A restart (rotate-keys, "mle-client -restart"): reload the key and state, report at once.
    Deno.addSignalListener("SIGHUP", () => {
      restarting = true;
      wake();
    });
  }
  options.say(`running as a service, reporting every ${interval} s`);
  const intervalMs = interval * 1000;
  let failureStreak = 0;
  let lastReportAt = -Infinity;
  while (!stopping) {
    if (restarting) {
      restarting = false;
      agent = await Agent.open(options);
      options.say("restarted");
      lastReportAt = -Infinity; // a restart reports at once
    }
    if (isReportDue(performance.now() - lastReportAt, intervalMs)) {
      await agent.queueReport(custom);
      lastReportAt = performance.now();
    }
    let cycle = await cycleWithRequestId(agent);
    ({ agent, cycle } = await carryOutDirectedRotation(agent, options) ?? { agent, cycle });
    await sendUploadsAfterCycle(agent, options, exitCodeOf(cycle, options), intervalMs);
    if (stopping || restarting) continue;
    const next = nextCycleDelay(cycle, failureStreak, intervalMs);
    failureStreak = next.failureStreak;
    options.say(`next cycle in ${Math.ceil(next.delayMs / 1000)} s: ${next.reason}`);
    const at = new Date(Date.now() + next.delayMs).toISOString();
    await agent.recordNextCycle({ at, reason: next.reason });
    if (stopping || restarting) continue; // a signal while it was recorded
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, next.delayMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  await agent.recordNextCycle(null);
  lock?.release();
  options.say("stopped");
  return EXIT.ok;
}

/**
 * One cycle with its own request id: every call it makes to the parent carries it, and the
 * relays and the server log it, so the run log's line leads to theirs.
 */
async function cycleWithRequestId(agent: Agent): Promise<CycleResult> {
  const requestId = newRequestId();
  return await runWithRequestId(requestId, async () => {
    runLog.debug("cycle started");
    const cycle = await agent.cycle();
    const level = cycle.outcome === "delivered" ? "info" : "warn";
    runLog[level](`cycle ${cycle.outcome}`, {
      message: cycle.message,
      queued: cycle.queued,
      hint: cycle.hint,
      heldBy: cycle.heldBy,
    });
    return cycle;
  });
}

function exitCodeOf(result: CycleResult, options: AgentOptions): number {
  switch (result.outcome) {
    case "delivered":
      options.say(`${result.message}`);
      return EXIT.ok;
    case "queued":
      console.error(`${TOOL}: error: ${result.message} (${result.queued} queued)`);
      if (result.hint) console.error(`${TOOL}: hint: ${result.hint}`);
      return EXIT.queued;
    case "unreachable":
      console.error(`${TOOL}: error: ${result.message} (${result.queued} queued)`);
      return EXIT.unreachable;
    default:
      console.error(`${TOOL}: error: ${result.message} (${result.queued} queued)`);
      if (result.hint) console.error(`${TOOL}: hint: ${result.hint}`);
      return EXIT.failure;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

async function rotate(values: ClientFlagValues): Promise<number> {
  const os = readTargetOs(values.os);
  if (values.os && !values["dry-run"] && os !== currentOs()) {
    throw new UsageError("--os is only for --dry-run", "a rotation runs for this machine's OS");
  }
  let systemd = false;
  try {
    systemd = os === "linux" && (await Deno.stat("/run/systemd/system")).isDirectory;
  } catch {
    systemd = false;
  }
  const options = await agentOptions(values, os);
  const defaults = defaultServiceSettings(os);
  const result = await rotateKeys({
    agent: options,
    compromised: values.compromised,
    dryRun: values["dry-run"],
    noRestart: values["no-restart"],
    os,
    service: {
      serviceName: values["service-name"] ?? defaults.serviceName,
      agentPath: values["agent-path"] ?? defaults.agentPath,
      initScript: values["init-script"],
      systemd,
    },
    root: values.root ?? null,
    print: (line) => console.log(line),
  });
  if (values["dry-run"]) return EXIT.ok;
  if (result.newComputerId !== null) {
    console.log(
      `computer ${result.oldComputerId ?? "-"} is now computer ${result.newComputerId}` +
        (values.compromised
          ? "; the old id stays valid until the operator confirms: " +
            `mle-admin computers confirm ${result.newComputerId}`
          : "; the server links them (hand-over)"),
    );
    return EXIT.ok;
  }
  console.error(`${TOOL}: error: the new key is not registered yet: ${result.pending}`);
  if (/ERR_KEY_EXCHANGE_REQUIRED|authenticating/i.test(result.pending ?? "")) {
    const relay = options.parents?.[0] ??
      (await readState(joinPath(options.dataDir, "state.json"))).parent;
    console.error(
      `${TOOL}: hint: the parent is an authenticating relay: ${
        keyExchangeHint(relay ?? "<relay-url>", options)
      }`,
    );
  }
  return values["no-restart"] ? EXIT.ok : EXIT.failure;
}
