/**
 * The moments `npm run soak` kills a process in on purpose, each read from the process's own
 * observable state, never from a guessed delay: a decrypting relay with a bundle in flight (its
 * log says "sending bundle" more often than "bundle delivered"), and the server while an upload's
 * chunks are being written (a partial file under `uploads/.incoming` growing). Each wait is
 * bounded; a moment not seen in time is missed, not waited for. Also whether a role answers, as
 * the chaos loop looks at it after a restart.
 *
 * @module
 */

import { API } from "../protocol/paths.ts";

/** Kills that landed in a moment the soak aims at. */
export interface TargetedKills {
  key_rotation: number;
  client_rotate_keys: number;
  bundle_in_flight: number;
  upload_chunk_write: number;
}

/** Whether the role listening on `port` answers its capabilities (within 2 s). */
export async function answers(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${API.capabilities}`, {
      signal: AbortSignal.timeout(2_000),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

const SENDING = /sending bundle/g;
const DELIVERED = /bundle delivered/g;

/** Bundles a decrypting relay's log shows sent but not answered yet. */
export function bundlesInFlight(log: string): number {
  return (log.match(SENDING)?.length ?? 0) - (log.match(DELIVERED)?.length ?? 0);
}

/**
 * Waits until the decrypting relay whose log `logOf` reads has a bundle in flight; false when
 * none was seen within `timeoutMs`.
 */
export async function waitForBundleInFlight(
  logOf: () => string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (bundlesInFlight(logOf()) > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

/** The total size of the partial upload files under a server data dir's `uploads/.incoming`. */
async function incomingBytes(serverDir: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(`${serverDir}/uploads/.incoming`)) {
      if (!entry.isDirectory) continue;
      const info = await Deno.stat(`${serverDir}/uploads/.incoming/${entry.name}/data.part`)
        .catch(() => null);
      total += info?.size ?? 0;
    }
  } catch {
    // No upload has started yet.
  }
  return total;
}

/**
 * Waits until the server's partial upload files grow between two looks a few milliseconds apart:
 * chunks are being written now. False when they did not within `timeoutMs`.
 */
export async function waitForChunkWrite(serverDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = await incomingBytes(serverDir);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const now = await incomingBytes(serverDir);
    if (now > last) return true;
    last = now;
  }
  return false;
}
