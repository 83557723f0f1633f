/**
 * Command-line parsing shared by the admin subcommands: the global `--data-dir`, help detection,
 * and the subcommands' flags read through `cli/flags.ts` (misuse is a {@linkcode UsageError}, exit 2).
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { type FlagDeclarations, parseFlags, readChoice, readInteger } from "../cli/flags.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import { UsageError } from "../cli/output.ts";
import { expandHome } from "../cli/home_path.ts";

/** The executable's name, as diagnostics print it. */
export const TOOL = "mle-admin";

/** Environment variable naming the server data dir. */
export const DATA_DIR_ENV = "MLE_DATA_DIR";
/** Environment variable holding the site key's password. */
export const PASSWORD_ENV = "MLE_SITE_PASSWORD";
/** Environment variable naming the site key file. */
export const SITE_KEY_ENV = "MLE_SITE_KEY";

/**
 * The options of every admin subcommand that name a file or folder: a leading `~` in them is
 * expanded (`--site-key=~/site/license.pvk` reaches us unexpanded by the shell).
 */
export const PATH_OPTIONS: readonly string[] = [
  "data-dir",
  "site-key",
  "password-file",
  "masthead",
  "out-key-path",
  "to",
  "from",
  "transfer-password-file",
];

/** What every subcommand receives from `main`. */
export interface CommandContext {
  /** `--data-dir` as given on the line, wherever it stood; undefined when absent. */
  dataDir: string | undefined;
}

/**
 * Takes the global data dir option out of a command line. It may stand anywhere, in any of the
 * forms `--data-dir DIR`, `--data-dir=DIR` or the legacy `-dataDir=DIR` (name case-insensitive).
 *
 * @throws {UsageError} When the value is missing or two different values are given.
 */
export function extractDataDir(args: readonly string[]): { dataDir?: string; rest: string[] } {
  const { value, rest } = extractGlobalOption(
    args,
    ["--data-dir", "-datadir", "--datadir"],
    "a folder",
    (first, second) => `Cannot use two data dirs: "${first}" and "${second}"`,
  );
  return value === undefined ? { rest } : { dataDir: expandHome(value), rest };
}

/**
 * Takes the global database options (`--database URL`, `--database-password-file FILE`) out of
 * a command line, wherever they stand.
 *
 * @throws {UsageError} When a value is missing or two different values are given.
 */
export function extractDatabaseOptions(args: readonly string[]): {
  values: { database?: string; "database-password-file"?: string };
  rest: string[];
} {
  const url = extractGlobalOption(args, ["--database"], "a postgres:// URL");
  const file = extractGlobalOption(url.rest, ["--database-password-file"], "a file");
  return {
    values: {
      ...(url.value === undefined ? {} : { database: url.value }),
      ...(file.value === undefined ? {} : { "database-password-file": expandHome(file.value) }),
    },
    rest: file.rest,
  };
}

/** Takes an option that may stand anywhere on the line (`NAME VALUE` or `NAME=VALUE`). */
function extractGlobalOption(
  args: readonly string[],
  names: readonly string[],
  what: string,
  // The values are not echoed by default: a database URL may hold a password.
  conflict: (first: string, second: string) => string = () =>
    `Cannot use two values of ${names[0]}`,
): { value?: string; rest: string[] } {
  const rest: string[] = [];
  let value: string | undefined;
  const take = (given: string | undefined) => {
    if (given === undefined || given === "") {
      throw new UsageError(`Missing value of ${names[0]}: expected ${what}`);
    }
    if (value !== undefined && value !== given) {
      throw new UsageError(conflict(value, given), `give ${names[0]} once`);
    }
    value = given;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const lower = arg.toLowerCase();
    const equals = lower.indexOf("=");
    if (names.includes(lower)) {
      take(args[++i]);
    } else if (equals > 0 && names.includes(lower.slice(0, equals))) {
      take(arg.slice(equals + 1));
    } else {
      rest.push(arg);
    }
  }
  return value === undefined ? { rest } : { value, rest };
}

/** The server data dir: `--data-dir`, else `MLE_DATA_DIR`, else the platform default. */
export function resolveDataDir(context: CommandContext): string {
  const fromEnv = Deno.env.get(DATA_DIR_ENV);
  return context.dataDir ?? (fromEnv ? expandHome(fromEnv) : defaultServerDataDir());
}

/** True when `-h` or `--help` stands anywhere on the line (before a `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "-h" || arg === "--help") return true;
  }
  return false;
}

/** A command or subcommand of `mle-admin`: runs on the arguments after its name, to an exit code. */
export type AdminCommand = (args: string[], context: CommandContext) => Promise<number>;

/**
 * The command `command` made of `subcommands`: it runs the subcommand its first argument names on
 * the rest of the line; `-h` or `--help` anywhere prints `help` instead; a missing or unknown name
 * is a {@linkcode UsageError} that lists the names of `subcommands` in their order.
 *
 * @example
 * ```ts ignore
 * export const uploadsCommand = subcommandGroup("uploads", uploadsHelp, { list: listUploads });
 * ```
 */
export function subcommandGroup(
  command: string,
  help: string,
  subcommands: Record<string, AdminCommand>,
): AdminCommand {
  return (args, context) => runSubcommand(command, help, subcommands, args, context);
}

async function runSubcommand(
  command: string,
  help: string,
  subcommands: Record<string, AdminCommand>,
  args: string[],
  context: CommandContext,
): Promise<number> {
  if (wantsHelp(args)) {
    console.log(help);
    return EXIT.ok;
  }
  const [name, ...rest] = args;
  const names = Object.keys(subcommands);
  const expected = names.length === 1
    ? names[0]
    : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
  if (name === undefined || name.startsWith("-")) {
    throw new UsageError(`Missing ${command} command: expected ${expected}`);
  }
  if (!Object.hasOwn(subcommands, name)) {
    throw new UsageError(`Unknown ${command} command "${name}": expected ${expected}`);
  }
  return await subcommands[name](rest, context);
}

/** Result of {@linkcode parseOptions}. */
export interface ParsedOptions {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/**
 * Parses a subcommand's options strictly through `cli/flags.ts`. Every misuse becomes a
 * {@linkcode UsageError} whose message names the option but never echoes a value (a value may be
 * a secret). A leading `~` in the {@linkcode PATH_OPTIONS} is expanded.
 */
export function parseOptions(
  args: string[],
  options: FlagDeclarations,
  allowPositionals = false,
): ParsedOptions {
  const declarations: FlagDeclarations = {};
  for (const [name, declaration] of Object.entries(options)) {
    declarations[name] = PATH_OPTIONS.includes(name) ? { ...declaration, path: true } : declaration;
  }
  const { values, positionals } = parseFlags(args, declarations, {
    positionals: allowPositionals,
  });
  return { values: values as ParsedOptions["values"], positionals };
}

/** A string option's value, or undefined. */
export function stringOption(values: ParsedOptions["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A repeatable string option's values (empty when absent). */
export function stringsOption(values: ParsedOptions["values"], name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return typeof value === "string" ? [value] : [];
}

/**
 * A required string option's value.
 *
 * @throws {UsageError} When it is absent or empty.
 */
export function requiredOption(
  values: ParsedOptions["values"],
  name: string,
  what: string,
): string {
  const value = stringOption(values, name);
  if (value === undefined || value === "") {
    throw new UsageError(`Missing option --${name}: expected ${what}`);
  }
  return value;
}

/**
 * Parses a computer id: a positive integer.
 *
 * @throws {UsageError} For anything else.
 */
export function parseComputerId(value: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`Cannot use computer id "${value}": expected a positive whole number`);
  }
  return Number(value);
}

/**
 * Parses the value of `--name DAYS`, or gives `fallback` when it is absent.
 *
 * @throws {UsageError} For anything but a whole number of days from 0 to 3650.
 */
export function parseWholeDays(name: string, value: string | undefined, fallback: number): number {
  return readInteger(name, value, fallback, { min: 0, max: 3650, unit: "whole days" });
}

/**
 * The output format of a listing: `--format text|json|csv`, or `--json` (its own JSON form), not
 * both; `json` says whether `--json` was given.
 *
 * @throws {UsageError} For another format, or both flags.
 */
export function readListFormat(
  values: ParsedOptions["values"],
): { format: "text" | "json" | "csv"; json: boolean } {
  const text = stringOption(values, "format");
  const format = readChoice("format", text, "text", ["text", "json", "csv"] as const);
  const json = values.json === true;
  if (text !== undefined && json) {
    throw new UsageError("Cannot use --json with --format: give one of them");
  }
  return { format: json ? "json" : format, json };
}
