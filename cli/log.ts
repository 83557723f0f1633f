/**
 * A small structured logger for long-running roles: one line per event on stderr,
 * `2026-11-23T12:00:00.000Z info mle-server report stored cid=12 seq=4`. Callers pass only
 * identifiers and counts, never bodies, keys or passwords.
 *
 * @module
 */

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The logger every role's app receives. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Creates a logger writing to stderr at or above `level`.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const log = createLogger("mle-server", "info");
 * log.info("listening", { port: 52311 });
 * ```
 */
export function createLogger(tool: string, level: LogLevel = "info"): Logger {
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    const rest = fields
      ? Object.entries(fields).map(([key, value]) => ` ${key}=${formatValue(value)}`).join("")
      : "";
    console.error(`${new Date().toISOString()} ${at} ${tool} ${message}${rest}`);
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

function formatValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /[\s"]/.test(text ?? "") ? JSON.stringify(text) : String(text);
}
