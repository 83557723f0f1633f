/**
 * The logging flags every long-running role takes (`--log-level`, `--log-format`, `--log-file`,
 * `--log-max-size`, `--log-keep`), their help text, and the logger they describe: one
 * declaration, so that the server, relays and clients read them alike.
 *
 * @module
 */

import { parseByteSize } from "../protocol/upload.ts";
import {
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
  stderrSink,
} from "./log.ts";
import { dirname } from "node:path";
import { CliError, UsageError } from "./output.ts";
import { DEFAULT_ROTATION, openRotatingLogFile, type RotationLimits } from "./rotating_log_file.ts";

/** The `parseArgs` declarations of the logging flags (no defaults: see {@linkcode readLogSettings}). */
export const LOG_OPTIONS = {
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  "log-file": { type: "string" },
  "log-max-size": { type: "string" },
  "log-keep": { type: "string" },
} as const;

/**
 * The help lines of the logging flags, their descriptions starting at `column` (the command's
 * own help's column); `envPrefix` names the environment variables, if any.
 */
export function logOptionsHelp(
  envPrefix?: string,
  defaults: { file?: string; rotation?: RotationLimits; column?: number } = {},
): string {
  const env = (name: string) => envPrefix ? `; env ${envPrefix}_${name}` : "";
  const rotation = defaults.rotation ?? DEFAULT_ROTATION;
  const entries: [string, string][] = [
    ["--log-level LEVEL", `debug, info, warn or error (default info${env("LOG_LEVEL")})`],
    [
      "--log-format FORMAT",
      "text (one line per event, key=value fields) or json (one object a line: time, level, " +
      `tool, message, fields) (default text${env("LOG_FORMAT")})`,
    ],
    [
      "--log-file FILE",
      defaults.file
        ? "where the log goes, rotated by size: FILE.1 is the previous one, up to FILE.<keep> " +
          `(default ${defaults.file}${env("LOG_FILE")})`
        : "write the log to FILE instead of stderr, rotated by size: FILE.1 is the previous " +
          `one, up to FILE.<keep>; its folder is made if missing${env("LOG_FILE")}`,
    ],
    [
      "--log-max-size SIZE",
      `largest size of one log file before it is rotated (default ${
        rotation.maxBytes / 1024 / 1024
      }M)`,
    ],
    ["--log-keep N", `rotated log files kept, 0 to 100 (default ${rotation.keep})`],
  ];
  const column = defaults.column ?? 26;
  return entries.map(([flag, text]) => helpEntry(flag, text, column)).join("\n");
}

/** One option of a help text: the flag, then its description wrapped at 100 columns. */
function helpEntry(flag: string, text: string, column: number): string {
  const lines: string[] = [];
  let line = `  ${flag}`.padEnd(column);
  for (const word of text.split(" ")) {
    if (line.length + word.length + 1 > 100 && line.trim().length > 0 && line.length > column) {
      lines.push(line.trimEnd());
      line = " ".repeat(column);
    }
    line += line.length === column || line.endsWith(" ") ? word : ` ${word}`;
  }
  lines.push(line.trimEnd());
  return lines.join("\n");
}

/** What the logging flags say. */
export interface LogSettings {
  level: LogLevel;
  format: LogFormat;
  /** The log file, or undefined for stderr. */
  file?: string;
  rotation: RotationLimits;
}

/** The flags' values as `parseArgs` gives them. */
export type LogOptionValues = Partial<Record<keyof typeof LOG_OPTIONS, string>>;

/**
 * Reads the logging flags (then `<envPrefix>_LOG_LEVEL`, `_LOG_FORMAT`, `_LOG_FILE`, then defaults).
 *
 * @throws {UsageError} For an unknown level or format, or unusable rotation bounds.
 *
 * @example
 * ```ts
 * import { readLogSettings } from "./log_options.ts";
 * const settings = readLogSettings({ "log-format": "json", "log-max-size": "1M" });
 * console.log(settings.level, settings.format, settings.rotation.maxBytes); // info json 1048576
 * ```
 */
export function readLogSettings(
  values: LogOptionValues,
  env: (name: string) => string | undefined = () => undefined,
  envPrefix?: string,
  defaults: { file?: string; rotation?: RotationLimits } = {},
): LogSettings {
  const fromEnv = (name: string) => envPrefix ? env(`${envPrefix}_${name}`) : undefined;
  const level = (values["log-level"] ?? fromEnv("LOG_LEVEL") ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    throw new UsageError(
      `Cannot use log level "${level}": expected debug, info, warn or error`,
    );
  }
  const format = (values["log-format"] ?? fromEnv("LOG_FORMAT") ?? "text") as LogFormat;
  if (!LOG_FORMATS.includes(format)) {
    throw new UsageError(`Cannot use log format "${format}": expected text or json`);
  }
  const file = values["log-file"] ?? fromEnv("LOG_FILE") ?? defaults.file;
  if (file === "") throw new UsageError("Cannot use an empty --log-file");
  let maxBytes = (defaults.rotation ?? DEFAULT_ROTATION).maxBytes;
  if (values["log-max-size"] !== undefined) {
    try {
      maxBytes = parseByteSize(values["log-max-size"]);
    } catch (error) {
      throw new UsageError(`Cannot use --log-max-size: ${(error as Error).message}`);
    }
    if (maxBytes < 1024) {
      throw new UsageError(`Cannot use --log-max-size "${values["log-max-size"]}": below 1K`);
    }
  }
  const keepText = values["log-keep"] ?? String((defaults.rotation ?? DEFAULT_ROTATION).keep);
  const keep = Number(keepText);
  if (!/^\d{1,3}$/.test(keepText) || keep > 100) {
    throw new UsageError(`Cannot use --log-keep "${keepText}": expected an integer from 0 to 100`);
  }
  return { level, format, file, rotation: { maxBytes, keep } };
}

/**
 * Opens the logger the settings describe, making the log file's folder (0700) when missing;
 * `close` closes its file, if any.
 *
 * @throws {CliError} When the log file cannot be opened (the message names it).
 */
export function openLogger(tool: string, settings: LogSettings): Logger & { close(): void } {
  let sink = stderrSink;
  let close = () => {};
  if (settings.file !== undefined) {
    let file;
    try {
      Deno.mkdirSync(dirname(settings.file), { recursive: true, mode: 0o700 });
      file = openRotatingLogFile(settings.file, settings.rotation);
    } catch (error) {
      throw new CliError(`Cannot open log file "${settings.file}": ${(error as Error).message}`, {
        hint: "give --log-file a file in a folder this user can write",
      });
    }
    sink = file;
    close = () => file.close();
  }
  return { ...createLogger(tool, settings.level, { format: settings.format, sink }), close };
}
