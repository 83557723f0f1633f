/**
 * The running `mle-client run` service of a data dir: it holds an advisory lock on
 * `agent.lock` (with its pid inside) for as long as it runs. The operating system releases the
 * lock however the process ends, so a stale file never makes us signal an unrelated process, and
 * two services can never run on one data dir. `mle-client -restart` and `rotate-keys` use it to
 * restart the service directly.
 *
 * @module
 */

import { CliError } from "../cli/output.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";

const FILE = "agent.lock";

/** The lock a running service holds. */
export interface AgentLock {
  release(): void;
}

/**
 * Takes the data dir's service lock and records this process's pid in it.
 *
 * @throws {CliError} When another service already runs on this data dir.
 */
export async function lockAgent(dataDir: string, waitMs = 0): Promise<AgentLock> {
  // A `rotate-keys` changing the key holds the lock for a moment: wait it out, within `waitMs`.
  const file = await takeLockFile(dataDir, waitMs);
  if (file === null) {
    throw new CliError(`Cannot start: another mle-client service runs on "${dataDir}"`, {
      hint: "restart it with: mle-client -restart --data-dir DIR",
    });
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return releasing(file);
}

/**
 * Holds the data dir's lock while no service does (for `rotate-keys` changing the key), without
 * naming a pid: a service starting meanwhile waits, then loads the new key. Null when a service
 * holds it.
 */
export async function holdAgentLock(dataDir: string): Promise<AgentLock | null> {
  const file = await takeLockFile(dataDir, 0);
  return file === null ? null : releasing(file);
}

/** The lock file, locked by this process (trying again within `waitMs`), or null when held. */
async function takeLockFile(dataDir: string, waitMs: number): Promise<Deno.FsFile | null> {
  await ensurePrivateDir(dataDir);
  const file = await Deno.open(joinPath(dataDir, FILE), {
    read: true,
    write: true,
    create: true,
    mode: 0o644,
  });
  const deadline = Date.now() + waitMs;
  let locked = await file.tryLock(true);
  while (!locked && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    locked = await file.tryLock(true);
  }
  if (locked) return file;
  file.close();
  return null;
}

function releasing(file: Deno.FsFile): AgentLock {
  return {
    release() {
      try {
        file.close();
      } catch {
        // already released
      }
    },
  };
}

/** The pid of the data dir's running service, or null when none holds the lock. */
export async function runningAgentPid(dataDir: string): Promise<number | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(joinPath(dataDir, FILE), { read: true, write: true });
  } catch {
    return null;
  }
  try {
    if (await file.tryLock(true)) return null; // nobody holds it: no service runs
    const pid = Number((await Deno.readTextFile(joinPath(dataDir, FILE))).trim());
    return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
  } finally {
    file.close();
  }
}

/** Asks a running agent to restart (SIGHUP): it reloads its key and state and reports at once. */
export function signalRestart(pid: number): void {
  Deno.kill(pid, "SIGHUP");
}
