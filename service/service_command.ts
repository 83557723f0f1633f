/**
 * `install-service` and `uninstall-service`, the same for the client, the relay and the server:
 * each role gives its names and reads its own `run` arguments; this module plans the service
 * (`service_plan.ts`), writes its files, records what it made (`service_record.ts`) and runs the
 * service manager's commands.
 *
 * A role whose permissions do not include running a service manager (the server and the relay:
 * they run no programs) writes the files and the record, and prints the commands for the
 * administrator instead of running them.
 *
 * @module
 */

import { parseFlags, readChoice } from "../cli/flags.ts";
import { fileURLToPath } from "node:url";
import { EXIT } from "../cli/exit_codes.ts";
import { formatCommand } from "../cli/command_line.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { currentOs, type TargetOs } from "../keystore/default_paths.ts";
import {
  dirname,
  ensurePrivateDir,
  pathExists,
  replaceFileAtomically,
} from "../keystore/secure_file.ts";
import { ROLE_ENTRY, ROLE_PERMISSIONS } from "../cli/role_permissions.ts";
import { baseName, type ServiceDefinition } from "./service_definition.ts";
import {
  defaultServiceName,
  isServiceName,
  planService,
  SERVICE_NAMES,
  serviceManagerFor,
  type ServicePlan,
  type ServiceRole,
  underRoot,
} from "./service_plan.ts";
import {
  readServiceRecord,
  removeServiceRecord,
  SERVICE_RECORD_FILE,
  serviceRecordOf,
  writeServiceRecord,
} from "./service_record.ts";

/** The operating systems `--os` names. */
const TARGET_OSES: readonly TargetOs[] = ["windows", "macos", "linux", "aix", "hpux", "solaris"];

/** What a role tells install-service about itself. */
export interface RoleService {
  role: ServiceRole;
  /** `mle-client`, for messages. */
  tool: string;
  /**
   * Reads `run`'s options with the role's own parser, so that a service that would not start is
   * refused now, and gives the folders the service writes.
   *
   * @throws {UsageError} For options `run` would refuse.
   */
  readRunOptions(
    args: string[],
    os: TargetOs,
  ): Promise<{ dataDir: string; writablePaths: string[] }>;
  /** The data dir uninstall-service looks in without --data-dir. */
  defaultDataDir(os: TargetOs): string;
}

/** The help of `<tool> install-service` and `uninstall-service`. */
export function serviceHelp(tool: string, role: ServiceRole): string {
  const names = SERVICE_NAMES[role];
  return `Usage: ${tool} install-service [options] [-- run [RUN OPTIONS]]
       ${tool} uninstall-service [--data-dir DIR] [--root DIR] [--dry-run]

Installs "${tool} run RUN OPTIONS" as a service that starts at boot and restarts on failure,
and records what it made in the data dir (${SERVICE_RECORD_FILE}): uninstall-service removes
exactly that${
    role === "client" ? ', and rotate-keys and "mle-client -restart" restart through it' : ""
  }.
  Linux     a systemd unit /etc/systemd/system/${names.unix}.service (NoNewPrivileges,
            ProtectSystem=strict, state and log directories), or where systemd does not run
            the machine an init script /etc/init.d/${names.unix}
  AIX       /etc/rc.d/rc2.d/${names.aixScript}; HP-UX /sbin/init.d/${names.unix}; Solaris /etc/init.d/${names.unix}
  macOS     a launchd job /Library/LaunchDaemons/com.mle.${names.unix}.plist
  Windows   a service "${names.windows}" made with sc.exe (automatic start, restart on failure)
Init scripts keep a pid file and the output in the data dir (service.pid, service.log).

Options:
  --name NAME          the service's name (default "${names.windows}" on Windows, else ${names.unix})
  --os OS              windows, macos, linux, aix, hpux or solaris (default: this machine's;
                       another only with --dry-run or --root)
  --manager MANAGER    Linux: systemd or initd (default: systemd when it runs this machine)
  --executable PATH    the ${tool} executable the service runs (default: this one; run from
                       source, the "deno run" line with ${tool}'s own permissions)
  --root DIR           write the files under DIR (for packages and tests) and run nothing:
                       the commands to run on the target are printed
  --dry-run            print the files and commands, write and run nothing
  --no-start           install and enable, but do not start it now
  --force              replace a service installed before (its files and record)
  --data-dir DIR       (uninstall-service) where the record is (default: the role's data dir)
  -h, --help           show this help

RUN OPTIONS are "${tool} run"'s options (see "${tool} run --help"); they are checked now.
Passwords never go there (every user can read a service's command line): use --password-file.${
    role === "server" || role === "relay"
      ? `\n${tool} runs no programs: it writes the files and prints the commands that enable and\nstart the service, for the administrator to run.`
      : ""
  }

Examples:
  ${tool} install-service -- run --data-dir /var/opt/${names.unix}
  ${tool} install-service --dry-run --os windows
  ${tool} install-service --root ./pkgroot --os aix --executable /usr/local/bin/${tool}
  ${tool} uninstall-service

Exit codes:
  0  done
  1  failed (the message says why; what was written is in the record, for uninstall-service)
  2  misuse of the command line
`;
}

const INSTALL_OPTIONS = {
  name: { type: "string" },
  os: { type: "string" },
  manager: { type: "string" },
  executable: { type: "string", path: true },
  root: { type: "string", path: true },
  "dry-run": { type: "boolean", default: false },
  "no-start": { type: "boolean", default: false },
  force: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** `<tool> install-service [options] [-- run …]`; returns the exit code. */
export async function installService(service: RoleService, args: string[]): Promise<number> {
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  const runArgs = split < 0 ? ["run"] : args.slice(split + 1);
  const { values } = parseFlags(own, INSTALL_OPTIONS);
  if (values.help) {
    console.log(serviceHelp(service.tool, service.role));
    return EXIT.ok;
  }
  const os = readTargetOs(values.os);
  const root = values.root ?? null;
  if (os !== currentOs() && !values["dry-run"] && root === null) {
    throw new UsageError(
      `Cannot install a service for "${os}" on this machine`,
      "add --dry-run to see it, or --root DIR to write it for a package",
    );
  }
  const name = values.name ?? defaultServiceName(service.role, os);
  if (!isServiceName(name, os)) {
    throw new UsageError(
      `Cannot name a service "${name}"`,
      os === "windows"
        ? "use letters, digits, spaces, dots, dashes and underscores (at most 64)"
        : "use letters, digits, dots, dashes and underscores (at most 64)",
    );
  }
  const manager = await managerOf(os, values.manager);
  const runOptions = runCommandArgs(service.tool, runArgs);
  const folders = await service.readRunOptions(runOptions, os);
  const definition: ServiceDefinition = {
    name,
    description: SERVICE_NAMES[service.role].description,
    argv: [...serviceProgram(service.role, values.executable), "run", ...runOptions],
    dataDir: folders.dataDir,
    writablePaths: folders.writablePaths,
  };
  const plan = planService(definition, {
    role: service.role,
    os,
    manager,
    initTool: manager === "initd" && os === "linux" ? await linuxInitTool() : null,
  });
  const record = serviceRecordOf(service.role, plan, new Date());
  const recordDir = underRoot(root, definition.dataDir);
  const commands = [...plan.install, ...(values["no-start"] ? [] : plan.start)];

  if (values["dry-run"]) {
    for (const file of plan.files) {
      console.log(`# would write ${file.path} (mode ${file.mode.toString(8)}):`);
      console.log(file.content);
    }
    for (const link of plan.links) console.log(`# would link ${link.path} -> ${link.target}`);
    console.log(`# would record ${definition.dataDir}/${SERVICE_RECORD_FILE}:`);
    console.log(JSON.stringify(record, null, 2));
    for (const command of commands) console.log(`# would run: ${formatCommand(command)}`);
    console.log(`# restart: ${formatCommand(plan.restart)}`);
    return EXIT.ok;
  }

  if (!values.force) await refuseExisting(plan, root, recordDir);
  for (const file of plan.files) {
    const path = underRoot(root, file.path);
    await Deno.mkdir(dirname(path), { recursive: true });
    await replaceFileAtomically(path, file.content, file.mode);
    console.log(`wrote ${path}`);
  }
  for (const link of plan.links) {
    const path = underRoot(root, link.path);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.remove(path).catch(() => {});
    await Deno.symlink(link.target, path);
    console.log(`linked ${path} -> ${link.target}`);
  }
  // Only the data dir itself is private: folders above it (staged /var/opt) keep the usual mode.
  await Deno.mkdir(dirname(recordDir), { recursive: true });
  await ensurePrivateDir(recordDir);
  await writeServiceRecord(recordDir, record);
  console.log(`recorded ${recordDir}/${SERVICE_RECORD_FILE}`);
  const left = root === null ? await runAll(commands, "install the service") : commands;
  printCommandsLeft(service, root, left, "run these on the target once the files are in place:");
  console.log(
    `installed the ${plan.manager} service "${name}"; it restarts with: ${
      formatCommand(plan.restart)
    }`,
  );
  return EXIT.ok;
}

/** `<tool> uninstall-service [--data-dir DIR] [--root DIR] [--dry-run]`; returns the exit code. */
export async function uninstallService(service: RoleService, args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    "data-dir": { type: "string", path: true },
    root: { type: "string", path: true },
    "dry-run": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(serviceHelp(service.tool, service.role));
    return EXIT.ok;
  }
  const root = values.root ?? null;
  const dataDir = values["data-dir"] ?? service.defaultDataDir(currentOs());
  const recordDir = underRoot(root, dataDir);
  const record = await readServiceRecord(recordDir);
  if (record === null) {
    throw new CliError(`Cannot uninstall: no service record in "${recordDir}"`, {
      hint: `install-service records what it makes there; give --data-dir the service's data dir`,
    });
  }
  if (record.role !== service.role) {
    throw new CliError(
      `Cannot uninstall: the service recorded in "${recordDir}" is the ${record.role}'s`,
      { hint: `run mle-${record.role} uninstall-service` },
    );
  }
  const paths = [...record.links, ...record.files].map((path) => underRoot(root, path));
  if (values["dry-run"]) {
    for (const command of record.stop) console.log(`# would run: ${formatCommand(command)}`);
    for (const path of paths) console.log(`# would remove ${path}`);
    for (const command of record.afterRemove) console.log(`# would run: ${formatCommand(command)}`);
    console.log(`# would remove ${recordDir}/${SERVICE_RECORD_FILE}`);
    return EXIT.ok;
  }
  const left: string[][] = [];
  if (root === null) {
    for (const command of record.stop) {
      // Stopping a service that is not running fails; removing it must still go on.
      const outcome = await runServiceCommand(command);
      if (outcome === "not permitted") left.push(command);
      else if (outcome !== "ok") console.error(`${service.tool}: warning: ${outcome}`);
    }
  } else {
    left.push(...record.stop);
  }
  for (const path of paths) {
    await Deno.remove(path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    console.log(`removed ${path}`);
  }
  left.push(...(root === null ? await runAll(record.afterRemove, "finish") : record.afterRemove));
  await removeServiceRecord(recordDir);
  printCommandsLeft(service, root, left, "run these on the target:");
  console.log(`uninstalled the ${record.manager} service "${record.name}"`);
  return EXIT.ok;
}

/**
 * Runs a service manager's command: "ok", "not permitted" (this role may not run it), or why it
 * failed (its exit code and the start of what it said).
 */
export async function runServiceCommand(argv: readonly string[]): Promise<string> {
  if (Deno.permissions.querySync({ name: "run", command: argv[0] }).state !== "granted") {
    return "not permitted";
  }
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    return `"${formatCommand(argv)}" could not run: ${(error as Error).message}`;
  }
  if (output.success) return "ok";
  const said = new TextDecoder().decode(output.stderr.length ? output.stderr : output.stdout)
    .trim().slice(0, 500);
  return `"${formatCommand(argv)}" exited with ${output.code}${said ? `: ${said}` : ""}`;
}

/** Runs `commands` in order; returns those this role may not run; throws on the first failure. */
async function runAll(commands: string[][], what: string): Promise<string[][]> {
  const left: string[][] = [];
  for (const command of commands) {
    const outcome = await runServiceCommand(command);
    if (outcome === "not permitted") left.push(command);
    else if (outcome !== "ok") {
      throw new CliError(`Cannot ${what}: ${outcome}`, {
        hint: "the files and the record are in place: fix the cause and run the command again, " +
          "or remove them with uninstall-service",
      });
    } else console.log(`ran ${formatCommand(command)}`);
  }
  return left;
}

/**
 * Prints the service manager's commands left to run, if any: for the administrator when this role
 * may not run them, or (with `--root`) for the target under `onTarget`.
 */
function printCommandsLeft(
  service: RoleService,
  root: string | null,
  left: readonly string[][],
  onTarget: string,
): void {
  if (left.length === 0) return;
  console.log(
    root === null ? `${service.tool} may not run these; run them as the administrator:` : onTarget,
  );
  for (const command of left) console.log(`  ${formatCommand(command)}`);
}

/**
 * The service's program: the given executable; else this compiled executable; else, run from
 * source, the `deno run` line with exactly the role's permissions (`cli/role_permissions.ts`), so
 * a service made from a checkout runs as the compiled one would.
 */
export function serviceProgram(role: ServiceRole, executable?: string): string[] {
  if (executable !== undefined) return [executable];
  const self = Deno.execPath();
  if (!/^deno(\.exe)?$/i.test(baseName(self))) return [self];
  return [
    self,
    "run",
    "--quiet",
    "--no-prompt",
    ...ROLE_PERMISSIONS[role],
    fileURLToPath(new URL(`../${ROLE_ENTRY[role]}`, import.meta.url)),
  ];
}

/** `run`'s options from what follows `--`: "run" first (or left out), no password in them. */
function runCommandArgs(tool: string, args: string[]): string[] {
  const options = args[0] === "run" ? args.slice(1) : args;
  if (options.length > 0 && !options[0].startsWith("-")) {
    throw new UsageError(
      `Cannot install "${tool} ${options[0]}" as a service`,
      `the service runs "${tool} run": give run's options after --`,
    );
  }
  const secret = options.find((arg) => /^--?[a-z-]*password(=|$)/i.test(arg));
  if (secret !== undefined) {
    throw new UsageError(
      `Cannot put ${
        secret.split("=")[0]
      } in a service's command line: every user can read it there`,
      "give the password in a file only the service's user can read: --password-file FILE",
    );
  }
  return options;
}

/**
 * Reads `--os` (one of {@linkcode TARGET_OSES}), this machine's when absent.
 *
 * @throws {UsageError} For any other name.
 */
export function readTargetOs(value: string | undefined): TargetOs {
  return readChoice("os", value, currentOs(), TARGET_OSES);
}

async function managerOf(os: TargetOs, value: string | undefined) {
  if (value !== undefined) {
    if (os !== "linux" || (value !== "systemd" && value !== "initd")) {
      throw new UsageError(
        `Cannot use --manager "${value}" for ${os}`,
        "--manager is systemd or initd, on Linux only",
      );
    }
    return value;
  }
  return serviceManagerFor(os, os === "linux" && await isDirectory("/run/systemd/system"));
}

/** The tool that links init scripts into the runlevels on this Linux, if any. */
async function linuxInitTool(): Promise<"update-rc.d" | "chkconfig" | null> {
  for (const dir of ["/usr/sbin", "/sbin"]) {
    if (await isFile(`${dir}/update-rc.d`)) return "update-rc.d";
    if (await isFile(`${dir}/chkconfig`)) return "chkconfig";
  }
  return null;
}

async function refuseExisting(plan: ServicePlan, root: string | null, recordDir: string) {
  const paths = [
    ...plan.files.map((file) => file.path),
    ...plan.links.map((link) => link.path),
  ].map((path) => underRoot(root, path));
  paths.push(`${recordDir}/${SERVICE_RECORD_FILE}`);
  for (const path of paths) {
    if (await pathExists(path)) {
      throw new CliError(`Cannot install the service: "${path}" already exists`, {
        hint: "nothing was written; run uninstall-service first, or add --force to replace it",
      });
    }
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
