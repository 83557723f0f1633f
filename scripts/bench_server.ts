/**
 * The servers `npm run bench` measures: started from source with their shipped permissions (or,
 * with `--profile`, the same command under `--cpu-prof`), each with an operations listener whose
 * counters ({@linkcode Metrics}) the benchmark reads; the served certificate's key id; a key
 * generated and deployed with the real admin tool.
 *
 * @module
 */

import { API } from "../protocol/paths.ts";
import { admin } from "../tests/deployment.ts";
import { freePort, roleCommand, RoleProcess } from "../tests/run_role.ts";

/** The counters of a server's operations listener that the benchmark reads. */
export interface Metrics {
  rsaPrivateOps: number;
  reportsStored: number;
  reportsStoredSinceStart?: number;
  peakRssBytes?: number;
  rssBytes?: number;
  [name: string]: unknown;
}

/** The server's count of stored reports, cheap when it keeps one in memory (else count(*)). */
export function storedCount(m: Metrics): number {
  return m.reportsStoredSinceStart ?? m.reportsStored;
}

/** The operations listener's port of the server on each public port (`--ops-listen`). */
const opsPorts = new Map<number, number>();

/** The counters of the server on `port`, read from its operations listener. */
export async function metrics(port: number): Promise<Metrics> {
  const response = await fetch(`http://127.0.0.1:${opsPorts.get(port)}${API.metrics}`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 200) throw new Error(`metrics: HTTP ${response.status}`);
  return await response.json();
}

/**
 * The counters of the servers on `ports` together: RSA operations and reports stored since
 * start summed; `reportsStored` (a count of the shared database) from the first.
 */
export async function metricsOf(ports: number[]): Promise<Metrics> {
  const all = await Promise.all(ports.map(metrics));
  return {
    ...all[0],
    rsaPrivateOps: all.reduce((sum, m) => sum + m.rsaPrivateOps, 0),
    reportsStoredSinceStart: all.reduce((sum, m) => sum + storedCount(m), 0),
  };
}

/** Polls `check` every 100 ms until it holds; throws past `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The key id of the encryption certificate the server on `port` serves, or null. */
export async function certificateKid(port: number): Promise<string | null> {
  const response = await fetch(`http://127.0.0.1:${port}${API.encryptionCertificate}`);
  if (response.status !== 200) {
    await response.body?.cancel();
    return null;
  }
  const document = await response.json();
  const payload = JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(document.payload, { alphabet: "base64url" })),
  );
  return payload.kid ?? null;
}

/** Generates a key of `size` and deploys it at once (`-reportencryption`); gives its key id. */
export async function generateKey(
  serverDir: string,
  siteKey: string,
  size: "min" | "max",
  env: Record<string, string> = {},
) {
  const result = await admin([
    "-reportencryption",
    "-generatekey",
    `-privateKeySize=${size}`,
    "-deploynow=yes",
    `-sitePvkLocation=${siteKey}`,
    "--data-dir",
    serverDir,
  ], env);
  const kid = /[0-9a-f]{40}/.exec(result.stdout)?.[0];
  if (!kid) throw new Error(`no key id in: ${result.stdout}`);
  return kid;
}

/** The server as a process, or (with --profile) the same command plus V8 CPU profiling. */
export type ServerProcess = Pick<RoleProcess, "waitFor" | "stop"> & { pid: number };

/**
 * Starts a server on `port` with its own operations listener (kept across restarts on the same
 * port); with `profileDir`, under `--cpu-prof` writing there.
 */
export function startServer(
  serverDir: string,
  port: number,
  extra: string[] = [],
  profileDir?: string,
): ServerProcess {
  const opsPort = opsPorts.get(port) ?? freePort();
  opsPorts.set(port, opsPort);
  const args = [
    "run",
    "--data-dir",
    serverDir,
    "--listen",
    `127.0.0.1:${port}`,
    "--ops-listen",
    `127.0.0.1:${opsPort}`,
    "--console-listen",
    "off",
    ...extra,
  ];
  if (profileDir === undefined) {
    const process = new RoleProcess("server", args);
    return Object.assign(process, { pid: process.child.pid });
  }
  const command = roleCommand("server", args);
  const child = new Deno.Command(command.command, {
    args: ["run", "--cpu-prof", `--cpu-prof-dir=${profileDir}`, ...command.args.slice(1)],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return {
    pid: child.pid,
    waitFor: async () => {
      await waitUntil("the profiled server to listen", async () => {
        try {
          await metrics(port);
          return true;
        } catch {
          return false;
        }
      }, 20_000);
    },
    stop: async () => {
      child.kill("SIGTERM");
      return await child.status;
    },
  };
}
