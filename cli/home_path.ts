/**
 * `~` in path options. A shell expands `~` only at the start of a word, so
 * `-sitePvkLocation=~/site/license.pvk` or `--site-key=~/site/license.pvk` (as the README and the
 * seeds write them) reach the program with the `~` still in them. Every path option of every role
 * goes through {@linkcode expandHome} (`cli/flags.ts` declares them), so such lines work as pasted.
 *
 * @module
 */

import { UsageError } from "./output.ts";

/**
 * The current user's home folder: `HOME`, else `USERPROFILE` (Windows), or undefined when
 * neither is set.
 */
export function homeDirectory(): string | undefined {
  return Deno.env.get("HOME") || Deno.env.get("USERPROFILE") || undefined;
}

/**
 * Expands a leading `~` (alone, or followed by `/` or, on Windows, `\`) to the home folder.
 * Anything else, `~user/…` included, is returned as it is.
 *
 * @throws {UsageError} When the path starts with `~` and no home folder is known.
 *
 * @example
 * ```ts
 * import { expandHome } from "./home_path.ts";
 * console.log(expandHome("~/site/license.pvk", "/home/ops")); // "/home/ops/site/license.pvk"
 * console.log(expandHome("/etc/x", "/home/ops")); // "/etc/x"
 * ```
 */
export function expandHome(path: string, home: string | undefined = undefined): string {
  const separator = Deno.build.os === "windows" ? /^~([\\/]|$)/ : /^~(\/|$)/;
  if (!separator.test(path)) return path;
  const base = home ?? homeDirectory();
  if (base === undefined) {
    throw new UsageError(
      `Cannot expand "~" in the path "${path}": HOME is not set`,
      "write the path in full, or set HOME",
    );
  }
  const rest = path.slice(1);
  if (rest === "") return base;
  return base.replace(/[\\/]+$/, "") + rest;
}
