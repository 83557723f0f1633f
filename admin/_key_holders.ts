/**
 * Which servers hold which MLE private keys, from the records the servers keep in the shared store
 * (`store/server_records.ts`): shown by `mle-admin encryption status`, and checked before a key is
 * deployed (`encryption deploy`, `generate --deploy-now`, `import --deploy` and the seed's
 * `-reportencryption -deploynow=yes` all go through `deployKey`): a live server that lacks the key
 * would refuse every report encrypted to it (503 ERR_KEY_UNAVAILABLE) once clients switch.
 *
 * @module
 */

import { CliError } from "../cli/output.ts";
import { isServerLive, SERVER_POLL_MS, type ServerRecord, type Store } from "../store/mod.ts";

/** Per key id, the servers whose record says its private key loads there (live or not). */
export function serversHolding(servers: readonly ServerRecord[], kid: string): ServerRecord[] {
  return servers.filter((server) => server.kids.includes(kid));
}

/** Options of {@linkcode requireLiveServersHold}. */
export interface HolderCheckOptions {
  /** Deploy anyway (the refusal becomes a warning). */
  force: boolean;
  /** Prints a warning (with --force). */
  warn: (message: string) => void;
  now?: () => number;
  /** How long a server that lacks the key is given to load it (default: a poll and a second). */
  graceMs?: number;
}

/**
 * Refuses to deploy `kid` while a live server lacks its private key, naming the servers and the
 * import command to run there. A server re-reads the keys every poll and records itself at once
 * when it loads one, so a server that still lacks the key a poll after the check began lacks
 * the file (a key file imported a moment ago is waited for, not refused).
 *
 * @throws {CliError} (`ERR_KEY_NOT_ON_SERVER` in the message) unless `force`.
 * @example
 * ```ts ignore
 * await requireLiveServersHold(store, kid, { force: false, warn: console.error });
 * ```
 */
export async function requireLiveServersHold(
  store: Store,
  kid: string,
  options: HolderCheckOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.graceMs ?? SERVER_POLL_MS + 1_000);
  let lacking: ServerRecord[];
  for (;;) {
    const live = (await store.listServers()).filter((server) => isServerLive(server, now()));
    lacking = live.filter((server) => !server.kids.includes(kid));
    if (lacking.length === 0 || now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (lacking.length === 0) return;
  const names = lacking.map((server) => `${server.name} (${server.url})`).join(", ");
  const message = `Cannot deploy key ${kid}: ERR_KEY_NOT_ON_SERVER: running server(s) ${names} ` +
    "lack its private key and would refuse every report encrypted to it";
  const hint = `copy the key there: mle-admin encryption export --to DIR --kid ${kid} here, ` +
    `then on each of them mle-admin encryption import --from DIR --kid ${kid} --data-dir ` +
    "SERVER_DATA_DIR (the server loads it within seconds); or deploy with --force";
  if (!options.force) throw new CliError(message, { hint });
  options.warn(`${message}; deploying anyway (--force)`);
}
