/**
 * One relay per data dir: two relays sharing a spool would send every report twice and race on
 * its files. The lock is an advisory lock on `<data-dir>/relay.lock`, which the operating system
 * releases when the process ends however it ends, so a crash never leaves a stale lock behind.
 *
 * @module
 */

import { joinPath } from "../keystore/secure_file.ts";

/** A held data dir lock. */
export interface DataDirLock {
  /** The lock file's path. */
  readonly path: string;
  /** Releases the lock (also released when the process ends). */
  release(): void;
}

/**
 * Takes the data dir's lock without waiting.
 *
 * @returns the lock, or null when another process holds it.
 * @example
 * ```ts ignore
 * import { lockDataDir } from "./data_dir_lock.ts";
 * const lock = await lockDataDir("/var/opt/mle-relay");
 * if (lock === null) throw new Error("another relay runs on this data dir");
 * lock.release();
 * ```
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock | null> {
  const path = joinPath(dataDir, "relay.lock");
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (error) {
    file.close();
    throw error;
  }
  if (!locked) {
    file.close();
    return null;
  }
  return {
    path,
    release() {
      try {
        file.close();
      } catch {
        // already released
      }
    },
  };
}
