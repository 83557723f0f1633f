/**
 * Files that hold secrets: created new (never overwritten) or replaced atomically, mode 0600 in
 * folders of mode 0700, and refused when others can read them.
 *
 * On Windows, POSIX modes do not exist; the folder's ACL (inherited from its parent) protects it.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";

const IS_WINDOWS = Deno.build.os === "windows";

/** Creates a folder (and its parents) and makes the folder itself mode 0700. */
export async function ensurePrivateDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  if (!IS_WINDOWS) await Deno.chmod(path, 0o700);
}

/**
 * Writes a new file with mode 0600, failing if anything already stands at the path, and syncs
 * the file and its folder so that a crash leaves either no file or the whole file.
 *
 * @throws {MleError} `ERR_KEY_FILE_EXISTS` when the path exists: keys are never overwritten.
 */
export async function createSecretFile(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (cause) {
    if (cause instanceof Deno.errors.AlreadyExists) {
      throw new MleError(
        "ERR_KEY_FILE_EXISTS",
        `Cannot create "${path}": a file already exists there; move it away first`,
      );
    }
    throw cause;
  }
  try {
    if (!IS_WINDOWS) await Deno.chmod(path, 0o600);
    await writeAll(file, bytes);
    await file.sync();
  } finally {
    file.close();
  }
  await syncDir(dirname(path));
}

/**
 * Replaces a file atomically: a temporary file beside it, fsync, rename over the target, fsync the
 * folder. Readers see the old or the new content, never a mix.
 */
export async function replaceFileAtomically(
  path: string,
  data: Uint8Array | string,
  mode = 0o600,
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const temporary = `${path}.tmp-${crypto.randomUUID()}`;
  const file = await Deno.open(temporary, { write: true, createNew: true, mode });
  try {
    if (!IS_WINDOWS) await Deno.chmod(temporary, mode);
    await writeAll(file, bytes);
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  file.close();
  try {
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  await syncDir(dirname(path));
}

/**
 * The one rule for every file that holds a secret (private keys, password files, one-time
 * passwords, sealed content keys): a regular file (no link, no folder) that, outside Windows,
 * neither its group nor others can read or write. Every reader of such a file checks it here, so
 * that the rule and its error are the same everywhere.
 *
 * @param what What the file is, for the message ("key", "password file", …).
 * @returns The file's information (size, modification time), for callers that watch it.
 * @throws {MleError} `ERR_SECRET_FILE_INSECURE`, naming the file and the command that fixes it.
 * @example
 * ```ts ignore
 * import { checkOwnerOnlyFile } from "./secure_file.ts";
 * await checkOwnerOnlyFile("/etc/mle/password", "password file");
 * // Cannot read password file "/etc/mle/password": others can access it (mode 644); run: chmod 600 "/etc/mle/password"
 * ```
 */
export async function checkOwnerOnlyFile(path: string, what: string): Promise<Deno.FileInfo> {
  const info = await Deno.lstat(path);
  if (!info.isFile) {
    throw new MleError(
      "ERR_SECRET_FILE_INSECURE",
      `Cannot read ${what} "${path}": expected a regular file, not a link or folder`,
    );
  }
  if (!IS_WINDOWS && info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new MleError(
      "ERR_SECRET_FILE_INSECURE",
      `Cannot read ${what} "${path}": others can access it (mode ${
        (info.mode & 0o777).toString(8)
      }); run: chmod 600 "${path}"`,
    );
  }
  return info;
}

/**
 * Reads a file that holds a secret, after {@linkcode checkOwnerOnlyFile}.
 *
 * @param what What the file is, for the message (default "key").
 * @throws {MleError} `ERR_SECRET_FILE_INSECURE` with the command that fixes it.
 */
export async function readSecretFile(
  path: string,
  what = "key",
): Promise<Uint8Array<ArrayBuffer>> {
  await checkOwnerOnlyFile(path, what);
  return await Deno.readFile(path);
}

/** Syncs a folder so that a rename or create inside it survives a crash (no-op on Windows). */
export async function syncDir(path: string): Promise<void> {
  if (IS_WINDOWS) return;
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

/**
 * Whether something (a file, a folder, a link: never followed) stands at `path`.
 *
 * @throws {Deno.errors.PermissionDenied} (and any other error but NotFound) when it cannot tell.
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

/** A file's text, or null when there is no file at `path` (any other failure is thrown). */
export async function readTextFileIfExists(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The folder part of a path, for either separator. */
export function dirname(path: string): string {
  const index = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (index < 0) return ".";
  if (index === 0) return path.slice(0, 1);
  return path.slice(0, index);
}

/** Joins path parts with the platform's separator. */
export function joinPath(...parts: string[]): string {
  const separator = IS_WINDOWS ? "\\" : "/";
  return parts.filter((part) => part !== "").map((part, index) =>
    index === 0 ? part.replace(/[\\/]+$/, "") || part : part.replace(/^[\\/]+|[\\/]+$/g, "")
  ).join(separator);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
