/**
 * The relay's parent URL in the one form every request path is appended to.
 *
 * @module
 */

import { parseServerUrl } from "../protocol/masthead.ts";

/**
 * Checks a parent URL (http or https, no credentials, no query) and drops trailing slashes, so
 * that `${base}${API.reports}` names the parent's path whether or not the user typed one.
 *
 * @throws {RangeError} With what to give instead.
 * @example
 * ```ts
 * import { parentBaseUrl } from "./parent_url.ts";
 * console.log(parentBaseUrl("http://server.example:52311/")); // "http://server.example:52311"
 * ```
 */
export function parentBaseUrl(value: string | URL): string {
  const url = parseServerUrl(String(value));
  if (url.search || url.hash) {
    throw new RangeError(`Cannot use parent URL "${value}": expected no query or fragment`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}
