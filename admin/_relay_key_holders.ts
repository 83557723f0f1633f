/**
 * Which decrypting relays hold which MLE private keys, from the records they keep at their server
 * (`store/relay_records.ts`, sent by `relay/key_holder_record.ts`): shown by `mle-admin
 * encryption status` beside the servers (`_key_holders.ts`), and checked before a key is
 * deployed. A live decrypting relay that lacks the key decrypts none of the reports sealed to it:
 * they pass it untouched, so nothing is lost, but its bundling (one signature and one RSA
 * operation at the server per bundle instead of per client) stops for them until the key is
 * imported there.
 *
 * @module
 */

import { CliError } from "../cli/output.ts";
import { type DecryptingRelayRecord, isRelayLive, type Store } from "../store/mod.ts";
import type { HolderCheckOptions } from "./_key_holders.ts";

/**
 * How long a relay that lacks the key is given to record it: a relay re-reads its `Encryption
 * Keys` every 5 s and records a change within a second (`relay/key_holder_record.ts`).
 */
const RELAY_KEY_NOTICE_MS = 7_000;

/** A decrypting relay holding a key, as `encryption status` shows it (JSON too). */
export interface RelayHolder {
  computerId: number;
  name: string;
  url: string;
  live: boolean;
  lastSeenAt: number;
}

/** The decrypting relays whose record says they hold `kid` (live or not), by computer id. */
export function relaysHolding(
  relays: readonly DecryptingRelayRecord[],
  kid: string,
  now: number,
): RelayHolder[] {
  return relays.filter((relay) => relay.kids.includes(kid)).map((relay) => ({
    computerId: relay.computerId,
    name: relay.name,
    url: relay.url,
    live: isRelayLive(relay, now),
    lastSeenAt: relay.lastSeenAt,
  }));
}

/** The holders as one table cell: "-" for none, a relay not seen lately marked so. */
export function describeRelayHolders(holders: readonly RelayHolder[]): string {
  if (holders.length === 0) return "-";
  return holders.map((relay) =>
    `${relay.name} (computer ${relay.computerId}${relay.live ? "" : ", not running"})`
  ).join(", ");
}

/**
 * Refuses to deploy `kid` while a live decrypting relay lacks its private key, naming the relays
 * and the import command to run there; a key imported there a moment ago is waited for.
 *
 * @throws {CliError} (`ERR_KEY_NOT_ON_RELAY` in the message) unless `force`.
 * @example
 * ```ts ignore
 * await requireLiveRelaysHold(store, kid, { force: false, warn: console.error });
 * ```
 */
export async function requireLiveRelaysHold(
  store: Pick<Store, "listDecryptingRelays">,
  kid: string,
  options: HolderCheckOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.graceMs ?? RELAY_KEY_NOTICE_MS);
  let lacking: DecryptingRelayRecord[];
  for (;;) {
    lacking = (await store.listDecryptingRelays())
      .filter((relay) => isRelayLive(relay, now()) && !relay.kids.includes(kid));
    if (lacking.length === 0 || now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (lacking.length === 0) return;
  const names = lacking.map((relay) => `${relay.name} (computer ${relay.computerId}, ${relay.url})`)
    .join(", ");
  const message = `Cannot deploy key ${kid}: ERR_KEY_NOT_ON_RELAY: running decrypting relay(s) ` +
    `${names} lack its private key and would pass every report sealed to it on undecrypted`;
  const hint = `copy the key there: mle-admin encryption export --to DIR --kid ${kid} here, ` +
    `then on each relay mle-admin encryption import --from DIR --kid ${kid} --data-dir ` +
    "RELAY_DIR (the relay loads it within seconds); or deploy with --force";
  if (!options.force) throw new CliError(message, { hint });
  options.warn(`${message}; deploying anyway (--force)`);
}
