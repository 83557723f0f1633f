/**
 * Whether something stands at a path, for commands that decide what to create or refuse: a link
 * counts (it is not followed), and only "not found" means no.
 *
 * @module
 */

/**
 * True when something (a file, a folder, a link, even a dangling one) stands at `path`.
 *
 * @throws {Deno.errors.PermissionDenied} And any error other than "not found": an unreadable
 * folder is not taken for an empty one.
 *
 * @example
 * ```ts
 * import { pathExists } from "./path_exists.ts";
 * console.log(await pathExists("/")); // true
 * ```
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
