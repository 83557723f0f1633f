/**
 * `npm run compile -- [options]`: builds one self-contained executable per role with
 * `deno compile`, for each target platform, into `dist/<target>/<executable>`. Each executable gets
 * exactly its role's permissions from `cli/role_permissions.ts`, so what the tests run is what ships.
 *
 * What goes in: `deno compile` embeds the modules the entry imports and, because the project uses
 * a local `node_modules` (`nodeModulesDir: "manual"`), that folder. Only the runtime dependencies
 * of package.json are kept: every other package, above all `deno` (the 95 MB toolchain that runs
 * this script), is passed as `--exclude`. No `--include` is needed: the roles import nothing
 * dynamically and read no file of the source tree, and `node:sqlite` is part of the runtime.
 *
 * The runtime an executable is built on (`denort`, one per target and Deno version) is downloaded
 * by `deno compile` from dl.deno.land and cached in `<DENO_DIR>/dl`. Offline, `DENORT_BIN` names a
 * denort binary; Deno then uses that binary whatever `--target` says (an x64 Linux denort built
 * "for" aarch64 gives a silently wrong executable), so with `DENORT_BIN` this script builds one
 * target per run and checks that the binary was made for it.
 *
 * @module
 */

import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags, readInteger } from "../cli/flags.ts";
import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printError, UsageError } from "../cli/output.ts";
import {
  type Role,
  ROLE_ENTRY,
  ROLE_EXECUTABLE,
  ROLE_PERMISSIONS,
  ROLES,
} from "../cli/role_permissions.ts";
import { type BoundedRunResult, runDenoBounded } from "./bounded_deno_run.ts";
import { readTarget, type Target, TARGETS } from "./compile_targets.ts";
import { checkDenortBin, denortHint } from "./denort_bin.ts";

const TOOL = "compile";

/** npm packages installed for building, never imported at runtime: not embedded. */
const TOOLCHAIN_PACKAGES = new Set(["deno"]);

/**
 * Folders of runtime packages that nothing imports: not embedded. bintrees (prom-client's, through
 * tdigest) ships its tests with a 2 MB data file that makes `deno compile` overflow its stack.
 */
const UNUSED_PACKAGE_FOLDERS = ["node_modules/bintrees/test"];

/** Per `deno compile`: long enough for a slow runtime download, short of hanging forever. */
const DEFAULT_TIMEOUT_SECONDS = 600;

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Usage of the build script. */
export const HELP = `Usage: npm run compile -- [options]
       deno run --allow-all scripts/compile.ts [options]

Builds one executable per role with deno compile, each with exactly its role's permissions
(cli/role_permissions.ts), into DIR/<target>/<executable>: mle-server, mle-relay, mle-client and
mle-admin (.exe on Windows). Only the runtime npm packages of package.json are embedded.

deno compile downloads the Deno runtime (denort) of each target from dl.deno.land once and caches
it. Offline, set DENORT_BIN to a denort binary of the same Deno version for the one target to build.
The full deno program is refused there: executables built on it would behave as plain deno.

Options:
  --target T      a target to build (repeatable; default: all five): host (this platform),
                  ${TARGETS.slice(0, 2).join(", ")},
                  ${TARGETS.slice(2).join(", ")}
  --role R        a role to build (repeatable; default: all): ${ROLES.join(", ")}
  --out DIR       the output folder (default: dist)
  --timeout SEC   stop a deno compile that takes longer (default: ${DEFAULT_TIMEOUT_SECONDS})
  --dry-run       print the deno compile command lines (run from the repository root) and exit
  -h, --help      show this help

Environment:
  DENORT_BIN      a denort binary (not the full deno) to build on instead of downloading one;
                  one target per run

Examples:
  npm run compile
  npm run compile -- --target host --role admin
  npm run compile -- --target x86_64-pc-windows-msvc --out /tmp/dist --dry-run
  DENORT_BIN=$HOME/denort npm run compile -- --target host

Exit codes:
  0  built (or, with --dry-run, printed)
  1  a build failed (the message says why and what to do)
  2  misuse: unknown option, target or role, bad value, several targets with DENORT_BIN
`;

/** What to build, from the command line. */
export interface CompileOptions {
  targets: Target[];
  roles: Role[];
  /** The output folder, relative to the repository root when inside it. */
  outDir: string;
  dryRun: boolean;
  timeoutSeconds: number;
}

/** One `deno compile` run. */
export interface Build {
  role: Role;
  target: Target;
  /** The executable's path, relative to the repository root when inside it. */
  output: string;
  /** The arguments of `deno`, run from the repository root. */
  args: string[];
}

/**
 * Parses the command line; `undefined` means help was asked for.
 *
 * @throws {UsageError} On any misuse.
 */
export function parseCompileArgs(args: string[], cwd = Deno.cwd()): CompileOptions | undefined {
  const end = args.indexOf("--");
  if (args.slice(0, end === -1 ? undefined : end).some((a) => a === "-h" || a === "--help")) {
    return undefined;
  }
  const { values } = parseFlags(args, {
    target: { type: "string", multiple: true },
    role: { type: "string", multiple: true },
    out: { type: "string", default: "dist", path: true },
    timeout: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  const targets = values.target ? unique(values.target.map(readTarget)) : [...TARGETS];
  const roles = values.role ? unique(values.role.map(parseRole)) : [...ROLES];
  const timeoutSeconds = readInteger("timeout", values.timeout, DEFAULT_TIMEOUT_SECONDS, {
    min: 1,
    max: 86_400,
    unit: "whole seconds",
  });
  return {
    targets,
    roles,
    outDir: rootRelative(resolve(cwd, values.out)),
    dryRun: values["dry-run"],
    timeoutSeconds,
  };
}

function parseRole(value: string): Role {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  throw new UsageError(`Unknown role "${value}": expected one of ${ROLES.join(", ")}`);
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/** A path relative to the repository root when it lies inside it, else absolute. */
function rootRelative(path: string): string {
  const rel = relative(ROOT, path);
  if (rel === "") return ".";
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** The executable's file name of a role on a target. */
export function executableName(role: Role, target: Target): string {
  return ROLE_EXECUTABLE[role] + (target.includes("windows") ? ".exe" : "");
}

/** The `deno compile` runs, target by target, each role in the order of {@linkcode ROLES}. */
export function planBuilds(options: CompileOptions, excludes: readonly string[]): Build[] {
  const builds: Build[] = [];
  for (const target of options.targets) {
    for (const role of ROLES.filter((r) => options.roles.includes(r))) {
      const output = join(options.outDir, target, executableName(role, target));
      builds.push({
        role,
        target,
        output,
        args: [
          "compile",
          "--quiet",
          "--no-prompt",
          ...ROLE_PERMISSIONS[role],
          "--target",
          target,
          "--output",
          output,
          ...excludes.flatMap((path) => ["--exclude", path]),
          ROLE_ENTRY[role],
        ],
      });
    }
  }
  return builds;
}

/**
 * The `node_modules` entries to leave out of the executables: all but the runtime dependencies of
 * package.json and what they depend on.
 *
 * @throws {CliError} When the packages are not installed.
 */
export async function npmExcludes(root = ROOT): Promise<string[]> {
  const installHint = "install the npm packages first: npm ci";
  const manifest = await readJson(join(root, "package.json"));
  if (manifest === undefined) {
    throw new CliError(`Cannot read "${join(root, "package.json")}"`);
  }
  const keep = new Set<string>();
  const pending = Object.keys(manifest.dependencies ?? {}).filter((n) =>
    !TOOLCHAIN_PACKAGES.has(n)
  );
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (keep.has(name)) continue;
    const pkg = await readJson(join(root, "node_modules", name, "package.json"));
    if (pkg === undefined) {
      throw new CliError(`Cannot embed the npm package "${name}": it is not in node_modules`, {
        hint: installHint,
      });
    }
    keep.add(name);
    pending.push(
      ...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies }),
    );
  }
  const excludes: string[] = [];
  for (const entry of await listDir(join(root, "node_modules"), installHint)) {
    if (entry.startsWith("@")) {
      const scoped = (await listDir(join(root, "node_modules", entry), installHint))
        .map((name) => `${entry}/${name}`);
      const dropped = scoped.filter((name) => !keep.has(name));
      if (dropped.length === scoped.length) excludes.push(`node_modules/${entry}`);
      else excludes.push(...dropped.map((name) => `node_modules/${name}`));
    } else if (!keep.has(entry)) {
      excludes.push(`node_modules/${entry}`);
    }
  }
  return [...excludes, ...UNUSED_PACKAGE_FOLDERS];
}

interface PackageManifest {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

async function readJson(path: string): Promise<PackageManifest | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new CliError(`Cannot read "${path}": ${(error as Error).message}`);
  }
}

async function listDir(path: string, hint: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`Cannot embed the npm packages: "${path}" does not exist`, { hint });
    }
    throw error;
  }
  return names.sort();
}

/** Why a `deno compile` failed, from its stderr. */
export type CompileFailure =
  | { kind: "download"; detail: string }
  | { kind: "denort-bin"; detail: string }
  | { kind: "other" };

/** Reads `deno compile`'s stderr: a runtime download failure, a bad DENORT_BIN, or other. */
export function classifyCompileFailure(stderr: string): CompileFailure {
  const lines = stripAnsi(stderr).split("\n").map((line) => line.trim().replace(/^\d+: /, ""));
  const denortAt = lines.findIndex((line) => line.startsWith("Could not find denort at"));
  if (denortAt !== -1) {
    const cause = lines[denortAt + 1];
    const detail = cause && !cause.startsWith("Stack backtrace")
      ? `${lines[denortAt]}: ${cause}`
      : lines[denortAt];
    return { kind: "denort-bin", detail };
  }
  const setup = lines.findIndex((line) => line.startsWith("Setting up base binary"));
  const url = lines.find((line) => /dl\.deno\.land\/\S*denort-/.test(line));
  if (setup !== -1 || url !== undefined) {
    const detail = url ?? lines[setup + 1] ?? "no detail given";
    return { kind: "download", detail: detail === "" ? "no detail given" : detail };
  }
  return { kind: "other" };
}

function stripAnsi(text: string): string {
  // deno colours its output even into a pipe.
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** A command line as a POSIX shell would take it. */
export function shellLine(words: readonly string[]): string {
  return words.map((w) => /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}

/** Where `deno compile` caches the runtimes it downloads, for the hint. */
async function denoDownloadFolder(): Promise<string> {
  const fallback = join("<DENO_DIR>", "dl", "release", `v${Deno.version.deno}`);
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(10_000),
    }).output();
    const denoDir = JSON.parse(new TextDecoder().decode(output.stdout)).denoDir;
    return typeof denoDir === "string"
      ? join(denoDir, "dl", "release", `v${Deno.version.deno}`)
      : fallback;
  } catch {
    return fallback;
  }
}

async function runBuild(build: Build, timeoutSeconds: number): Promise<BoundedRunResult> {
  await Deno.mkdir(dirname(resolve(ROOT, build.output)), { recursive: true });
  // A stalled connection to dl.deno.land makes deno compile wait forever: bound it.
  return await runDenoBounded({
    args: build.args,
    cwd: ROOT,
    env: Deno.stderr.isTerminal() ? {} : { NO_COLOR: "1" },
  }, timeoutSeconds);
}

async function failureOf(
  build: Build,
  result: BoundedRunResult,
  timeoutSeconds: number,
): Promise<CliError> {
  const executable = executableName(build.role, build.target);
  const { target } = build;
  const usingDenortBin = Deno.env.get("DENORT_BIN") !== undefined;
  if (result.timedOut) {
    return new CliError(
      `deno compile of "${executable}" for "${target}" did not finish within ${timeoutSeconds} s and was stopped`,
      {
        hint: (usingDenortBin ? "" : "a stalled download of the runtime from dl.deno.land is the " +
          `usual cause; offline, set DENORT_BIN to a denort binary for "${target}": ` +
          `${denortHint(target)}\n`) + "or allow more time with --timeout SECONDS",
      },
    );
  }
  const failure = classifyCompileFailure(result.stderr);
  if (failure.kind === "download") {
    const folder = await denoDownloadFolder();
    return new CliError(
      `The Deno runtime (denort) for target "${target}" could not be downloaded: ${failure.detail}`,
      {
        hint:
          `offline, set DENORT_BIN to a denort binary for "${target}": ${denortHint(target)}\n` +
          `then run DENORT_BIN=/path/to/denort npm run compile -- --target ${target}; one ` +
          "DENORT_BIN builds one target per run (--target host with the denort of this platform)\n" +
          `or put denort-${target}.zip, still zipped, in ${folder}: deno compile uses the runtimes ` +
          "it finds there without downloading, for any number of targets",
      },
    );
  }
  if (failure.kind === "denort-bin") {
    return new CliError(`deno compile could not use DENORT_BIN: ${failure.detail}`, {
      hint: `set DENORT_BIN to a denort binary for "${target}": ${denortHint(target)}`,
    });
  }
  // Anything else (a type error, a missing module) is best read in deno's own words.
  const own = stripAnsi(result.stderr + result.stdout).trimEnd();
  if (own) console.error(own);
  return new CliError(
    `deno compile of "${executable}" for "${target}" failed with exit code ${result.code}` +
      (own ? ": its output is above" : ""),
  );
}

/** Runs the build script; returns the exit code. */
export async function compileCommand(args: string[]): Promise<number> {
  const options = parseCompileArgs(args);
  if (options === undefined) {
    console.log(HELP.trimEnd());
    return EXIT.ok;
  }
  const denortBin = Deno.env.get("DENORT_BIN");
  if (denortBin !== undefined) await checkDenortBin(denortBin, options.targets);
  const builds = planBuilds(options, await npmExcludes());
  if (options.dryRun) {
    for (const build of builds) console.log(shellLine([Deno.execPath(), ...build.args]));
    return EXIT.ok;
  }
  for (const build of builds) {
    const result = await runBuild(build, options.timeoutSeconds);
    if (result.code !== 0 || result.timedOut) {
      throw await failureOf(build, result, options.timeoutSeconds);
    }
    const warnings = stripAnsi(result.stderr + result.stdout).trimEnd();
    if (warnings) console.error(warnings);
    console.log(build.output);
  }
  return EXIT.ok;
}

/** Entry: turns expected errors into `compile: error: …` / `compile: hint: …` and an exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    return await compileCommand(args);
  } catch (error) {
    if (error instanceof CliError) {
      printError(TOOL, error.message);
      for (const line of error.hint?.split("\n") ?? []) console.error(`${TOOL}: hint: ${line}`);
      return error.exitCode;
    }
    printError(TOOL, `Unexpected failure: ${(error as Error)?.message ?? String(error)}`);
    return EXIT.failure;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
