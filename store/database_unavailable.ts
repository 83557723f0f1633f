/**
 * Whether a store error means the database is out of reach (down, restarting, cut off), as
 * opposed to a refusal of the request itself: the server then keeps what it can without it
 * (`server/database_outage_spool.ts`) and refuses the rest with 503 and `Retry-After`.
 *
 * @module
 */

/** Error codes of the `postgres` client and of sockets when no connection is usable. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * SQLSTATEs of a database that cannot serve now: class 08 (connection exception), a shutdown
 * (57P01 to 57P03) or too many connections (53300).
 */
function isUnavailableSqlState(code: string): boolean {
  return /^08/.test(code) || /^57P0[1-3]$/.test(code) || code === "53300";
}

/**
 * True when `error` (or one of its causes) says the database cannot be reached now.
 *
 * @example
 * ```ts
 * import { isDatabaseUnavailable } from "./database_unavailable.ts";
 * const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
 * console.log(isDatabaseUnavailable(refused)); // true
 * console.log(isDatabaseUnavailable(new Error("duplicate key"))); // false
 * ```
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let depth = 0; depth < 5 && error instanceof Error; depth++) {
    if (
      error instanceof Deno.errors.ConnectionRefused ||
      error instanceof Deno.errors.ConnectionReset ||
      error instanceof Deno.errors.BrokenPipe ||
      error instanceof Deno.errors.TimedOut
    ) {
      return true;
    }
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || isUnavailableSqlState(code))) {
      return true;
    }
    error = error.cause;
  }
  return false;
}
