/**
 * Parses `--listen HOST:PORT` (also `:PORT`, `PORT`, `[::1]:PORT`).
 *
 * @module
 */

import { DEFAULT_PORT } from "../protocol/paths.ts";

/**
 * Parses a listen address; the port defaults to 52311.
 *
 * @throws {RangeError} When the value is not HOST:PORT with a host name or IP address and a port
 * from 0 to 65535.
 * @example
 * ```ts
 * import { parseListenAddress } from "./listen_address.ts";
 * console.log(parseListenAddress("127.0.0.1:8080")); // { hostname: "127.0.0.1", port: 8080 }
 * ```
 */
export function parseListenAddress(value: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*))?(?::(\d+))?$/.exec(value.trim());
  const bare = /^\d+$/.test(value.trim());
  if (!match && !bare) {
    throw new RangeError(
      `Cannot listen on "${value}": expected HOST:PORT, for example 0.0.0.0:52311`,
    );
  }
  const hostname = bare ? "0.0.0.0" : (match![1] ?? match![2]) || "0.0.0.0";
  const valid = match?.[1] !== undefined ? /^[0-9a-fA-F:.]+$/ : /^[A-Za-z0-9.-]+$/;
  if (!bare && !valid.test(hostname)) {
    throw new RangeError(
      `Cannot listen on "${value}": "${hostname}" is not a host name or IP address`,
    );
  }
  const port = Number(bare ? value.trim() : match![3] ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot listen on "${value}": port must be 0 to 65535`);
  }
  return { hostname, port };
}
