/**
 * The one place where a command declares and reads its flags: {@linkcode parseFlags} takes a
 * declaration per flag (string, boolean, repeatable, path) and the command line, and the readers
 * turn a flag's text (or its environment fallback) into a bounded integer or decimal number, a
 * duration, a size or one of a few words, each misuse a {@linkcode UsageError} that names the
 * flag, the bad value and what is accepted.
 *
 * Unlike `node:util` `parseArgs` alone, a flag that takes a value accepts one that starts with
 * `-` (`--trust-relay -Xb3…`: a base64url key starts with `-` one time in 64); only a flag this
 * command declares is never taken as a value.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration } from "./duration.ts";
import { expandHome } from "./home_path.ts";
import { parseListenAddress } from "./listen_address.ts";
import { UsageError } from "./output.ts";
import { parseByteSize } from "../protocol/upload.ts";

/** How a command declares one flag (the `parseArgs` option, plus `path`). */
export interface FlagDeclaration {
  type: "string" | "boolean";
  /** Repeatable: the values are collected in order. */
  multiple?: boolean;
  /** A one-letter alias (`-h`). */
  short?: string;
  default?: string | boolean | string[] | boolean[];
  /** A file or folder: a leading `~` is expanded (`cli/home_path.ts`), and it may not be empty. */
  path?: boolean;
}

/** A command's flags, by name (without the leading `--`). */
export type FlagDeclarations = Record<string, FlagDeclaration>;

/** The values {@linkcode parseFlags} gives for `T`: strings, booleans and arrays of strings. */
export type FlagValues<T extends FlagDeclarations> = ReturnType<
  typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>
>["values"];

/** What {@linkcode parseFlags} gives. */
export interface ParsedFlags<T extends FlagDeclarations> {
  values: FlagValues<T>;
  positionals: string[];
}

/**
 * Parses a command line strictly against the declared flags. Flags take their value as
 * `--flag VALUE` or `--flag=VALUE`, whatever the value starts with; path flags have `~` expanded.
 * Misuse messages name the flag but never echo a value (a value may be a secret).
 *
 * @throws {UsageError} For an unknown flag, a missing value, a value given to a boolean flag, an
 * argument where none is allowed, or an empty path.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const { values } = parseFlags(["--trust-relay", "-Xb3", "--data-dir=~/relay"], {
 *   "trust-relay": { type: "string", multiple: true },
 *   "data-dir": { type: "string", path: true },
 * });
 * console.log(values["trust-relay"]); // ["-Xb3"]
 * ```
 */
export function parseFlags<const T extends FlagDeclarations>(
  args: readonly string[],
  flags: T,
  options: { positionals?: boolean } = {},
): ParsedFlags<T> {
  const config: Record<string, Omit<FlagDeclaration, "path">> = {};
  for (const [name, { path: _path, ...declaration }] of Object.entries(flags)) {
    config[name] = declaration;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashValues(args, flags),
      options: config as T,
      strict: true,
      allowPositionals: options.positionals ?? false,
    });
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
  const values = parsed.values as Record<string, unknown>;
  for (const [name, declaration] of Object.entries(flags)) {
    const value = values[name];
    if (!declaration.path || value === undefined) continue;
    const expand = (item: unknown) => {
      if (item === "") throw new UsageError(`Cannot use an empty --${name}`);
      return typeof item === "string" ? expandHome(item) : item;
    };
    values[name] = Array.isArray(value) ? value.map(expand) : expand(value);
  }
  return { values: parsed.values as FlagValues<T>, positionals: parsed.positionals };
}

/**
 * Rewrites `--flag VALUE` as `--flag=VALUE` where the flag takes a value and VALUE starts with
 * `-` but is not one of the declared flags, so that `parseArgs` does not refuse it as ambiguous.
 */
function joinDashValues(args: readonly string[], flags: FlagDeclarations): string[] {
  const byShort = new Map<string, string>();
  for (const [name, { short }] of Object.entries(flags)) if (short) byShort.set(short, name);
  const isDeclaredFlag = (arg: string) => {
    if (arg === "--") return true;
    if (arg.startsWith("--")) return Object.hasOwn(flags, arg.slice(2).split("=")[0]);
    return arg.length >= 2 && byShort.has(arg[1]);
  };
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : byShort.get(/^-(\w)$/.exec(arg)?.[1] ?? "");
    const next = args[i + 1];
    if (
      name !== undefined && Object.hasOwn(flags, name) && flags[name].type === "string" &&
      next !== undefined && next.startsWith("-") && !isDeclaredFlag(next)
    ) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: string })?.code;
  const message = (error as Error)?.message ?? String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  const name = quoted.split(" ")[0];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown option "${name}"`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `Unexpected argument "${name}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return message.includes("does not take an argument")
        ? `Option "${name}" takes no value`
        : `Missing value of option "${name}"`;
    default:
      return `Cannot parse the command line: ${message}`;
  }
}

/** Bounds of a numeric flag. */
export interface IntegerBounds {
  min: number;
  max: number;
  /** What the number counts, for the message ("seconds"); "an integer" when absent. */
  unit?: string;
}

/**
 * Reads a whole number within bounds from a flag's text, or gives `fallback` when the text is
 * undefined.
 *
 * @throws {UsageError} For anything but a whole number from `min` to `max`.
 *
 * @example
 * ```ts
 * import { readInteger } from "./flags.ts";
 * console.log(readInteger("concurrency", "8", 4, { min: 1, max: 64 })); // 8
 * console.log(readInteger("concurrency", undefined, 4, { min: 1, max: 64 })); // 4
 * ```
 */
export function readInteger<F extends number | undefined>(
  flag: string,
  text: string | undefined,
  fallback: F,
  bounds: IntegerBounds,
): number | F {
  return readWithin(flag, text, fallback, bounds, /^\d{1,16}$/, "an integer");
}

/**
 * Reads a decimal number within bounds (`8`, `0.6`) from a flag's text, or gives `fallback` when
 * the text is undefined: for a measurement's length in seconds, where a fraction makes sense.
 *
 * @throws {UsageError} For anything but digits with at most one decimal point, from `min` to
 * `max`.
 *
 * @example
 * ```ts
 * import { readNumber } from "./flags.ts";
 * console.log(readNumber("seconds", "0.6", 1, { min: 0.001, max: 30, unit: "seconds" })); // 0.6
 * ```
 */
export function readNumber<F extends number | undefined>(
  flag: string,
  text: string | undefined,
  fallback: F,
  bounds: IntegerBounds,
): number | F {
  return readWithin(flag, text, fallback, bounds, /^\d{1,9}(\.\d{1,9})?$/, "a number");
}

/** Reads a number written as `form` allows, from `min` to `max`: readInteger's and readNumber's. */
function readWithin<F extends number | undefined>(
  flag: string,
  text: string | undefined,
  fallback: F,
  bounds: IntegerBounds,
  form: RegExp,
  what: string,
): number | F {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!form.test(text) || value < bounds.min || value > bounds.max) {
    throw new UsageError(
      `Cannot use --${flag} "${shown(text)}": expected ${
        bounds.unit ?? what
      } from ${bounds.min} to ${bounds.max}`,
    );
  }
  return value;
}

/**
 * Reads a duration (`90s`, `30m`, `12h`, `7d`, see `cli/duration.ts`) in milliseconds from a
 * flag's text, or gives `fallback` when the text is undefined.
 *
 * @throws {UsageError} For anything else.
 */
export function readDuration<F extends number | undefined>(
  flag: string,
  text: string | undefined,
  fallback: F,
): number | F {
  if (text === undefined) return fallback;
  try {
    return parseDuration(text);
  } catch (error) {
    throw new UsageError(`Cannot use --${flag}: ${(error as Error).message}`);
  }
}

/**
 * Reads a size in bytes (`512K`, `2G`, a plain number of bytes) from a flag's text, at least
 * `min` bytes, or gives `fallback` when the text is undefined.
 *
 * @throws {UsageError} For a malformed size, or one below `min` or above `max`.
 *
 * @example
 * ```ts
 * import { readSize } from "./flags.ts";
 * console.log(readSize("log-max-size", "1M", 0, { min: 1024, minText: "1K" })); // 1048576
 * ```
 */
export function readSize<F extends number | undefined>(
  flag: string,
  text: string | undefined,
  fallback: F,
  bounds: { min?: number; minText?: string; max?: number; maxText?: string } = {},
): number | F {
  if (text === undefined) return fallback;
  let bytes: number;
  try {
    bytes = parseByteSize(text);
  } catch (error) {
    throw new UsageError(`Cannot use --${flag}: ${(error as Error).message}`);
  }
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (bytes < min) {
    throw new UsageError(
      `Cannot use --${flag} "${shown(text)}": expected at least ${bounds.minText ?? min}` +
        (bounds.minText ? ` (${min} bytes)` : " bytes"),
    );
  }
  if (bytes > max) {
    throw new UsageError(
      `Cannot use --${flag} "${shown(text)}": expected at most ${bounds.maxText ?? max}` +
        (bounds.maxText ? ` (${max} bytes)` : " bytes"),
    );
  }
  return bytes;
}

/**
 * Reads one of a few words from a flag's text, or gives `fallback` when the text is undefined.
 *
 * @throws {UsageError} For any other word, listing the accepted ones.
 *
 * @example
 * ```ts
 * import { readChoice } from "./flags.ts";
 * console.log(readChoice("format", "json", "text", ["text", "json", "csv"] as const)); // json
 * ```
 */
export function readChoice<C extends string, F extends C | undefined>(
  flag: string,
  text: string | undefined,
  fallback: F,
  choices: readonly C[],
): C | F {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(
      `Cannot use --${flag} "${shown(text)}": expected ${listWords(choices)}`,
    );
  }
  return text as C;
}

/**
 * Reads a path from a flag's text or an environment fallback: a leading `~` expanded.
 *
 * @throws {UsageError} For an empty path.
 */
export function readPath<F extends string | undefined>(
  flag: string,
  text: string | undefined,
  fallback: F,
): string | F {
  if (text === undefined) return fallback;
  if (text === "") throw new UsageError(`Cannot use an empty --${flag}`);
  return expandHome(text);
}

/**
 * Reads a listen address (`HOST:PORT`, see `cli/listen_address.ts`) from a flag's text.
 *
 * @throws {UsageError} For anything else, with a hint naming the flag.
 */
export function readListenAddress(flag: string, text: string): { hostname: string; port: number } {
  try {
    return parseListenAddress(text);
  } catch (error) {
    throw new UsageError((error as Error).message, `give --${flag} HOST:PORT`);
  }
}

/** "a, b or c". */
function listWords(words: readonly string[]): string {
  return words.length < 2
    ? words.join("")
    : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** A bad value as a message shows it: at most 60 characters (a value may be anything pasted). */
function shown(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
