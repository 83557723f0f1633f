/**
 * The one logger of every role: one line per event, at a level, with structured fields, as text
 * (`2026-11-23T12:00:00.000Z info mle-server report stored cid=12 seq=4 requestId=…`) or as one
 * JSON object a line (`--log-format json`), on stderr or in a size-rotated file (`--log-file`,
 * `cli/rotating_log_file.ts`). A line written while a request is handled names its request id
 * (`protocol/request_id.ts`) without the caller passing it.
 *
 * Callers pass only identifiers, counts and reasons, never bodies, keys or passwords. As a second
 * line of defence, a field whose name says it holds a secret (`password`, `secret`, `privateKey`,
 * `token`, `body`…) and any text that holds a PEM private key are written as `[redacted]`.
 *
 * @module
 */

import { currentRequestId } from "../protocol/request_id.ts";

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The levels, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** How lines are written: `text` for people, `json` for log collectors. */
export type LogFormat = "text" | "json";

/** The log formats. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** The logger every role's app receives. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where finished lines go (each without its newline). */
export interface LogSink {
  write(line: string): void;
}

/** How a logger writes. */
export interface LoggerOptions {
  /** `text` (default) or `json`. */
  format?: LogFormat;
  /** Where lines go (default: stderr). */
  sink?: LogSink;
  /** The clock (tests pass a fixed one). */
  now?: () => Date;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const REDACTED = "[redacted]";
/** Field names whose values are never written, whatever a caller passes. */
const SECRET_FIELD = /pass(word|phrase)?|secret|private|token|credential|content.?key|^body$/i;
const PEM_PRIVATE_KEY = /PRIVATE KEY/;
const encoder = new TextEncoder();

/** Writes each line to stderr, synchronously, so that lines keep their order and survive a crash. */
export const stderrSink: LogSink = {
  write(line) {
    const bytes = encoder.encode(`${line}\n`);
    let written = 0;
    while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
  },
};

/**
 * Creates a logger writing lines at or above `level`.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger("mle-server", "info", {
 *   format: "json",
 *   sink: { write: (line) => lines.push(line) },
 * });
 * log.info("listening", { port: 52311, password: "never written" });
 * console.log(JSON.parse(lines[0]).password); // "[redacted]"
 * ```
 */
export function createLogger(
  tool: string,
  level: LogLevel = "info",
  options: LoggerOptions = {},
): Logger {
  const format = options.format ?? "text";
  const sink = options.sink ?? stderrSink;
  const now = options.now ?? (() => new Date());
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    const safe = safeFields(fields);
    const requestId = currentRequestId();
    if (requestId !== undefined && !("requestId" in safe)) safe.requestId = requestId;
    const time = now().toISOString();
    const text = redactText(message);
    sink.write(
      format === "json"
        ? JSON.stringify({ time, level: at, tool, message: text, ...safe })
        : `${time} ${at} ${tool} ${text}${
          Object.entries(safe).map(([key, value]) => ` ${key}=${formatValue(value)}`).join("")
        }`,
    );
  };
  return {
    debug: (message, fields) => write("debug", message, fields),
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}

/** A logger that drops everything (tests of apps in-process). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** The fields as they may be written: secrets by name redacted, values made JSON-safe. */
function safeFields(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  const safe: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (SECRET_FIELD.test(key)) safe[key] = REDACTED;
    else if (value instanceof Error) safe[key] = redactText(value.message);
    else if (typeof value === "string") safe[key] = redactText(value);
    else if (typeof value === "object" && value !== null) {
      const text = JSON.stringify(value) ?? "";
      safe[key] = PEM_PRIVATE_KEY.test(text) ? REDACTED : value;
    } else safe[key] = value;
  }
  return safe;
}

function redactText(text: string): string {
  return PEM_PRIVATE_KEY.test(text) ? REDACTED : text;
}

function formatValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /[\s"=]/.test(text ?? "") ? JSON.stringify(text) : String(text);
}
