/**
 * `mle-admin encryption status` (and `-reportencryption` alone): the state, every key with its
 * role, the computers that last used it, whether its private key file is here and usable, which
 * servers sharing the database hold it, and the computers orphaned once encryption is disabled.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { encryptionKeyFileProblem, encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import {
  type ComputerRecord,
  type DecryptingRelayRecord,
  type EncryptionKeyRecord,
  isServerLive,
  type ServerRecord,
} from "../store/mod.ts";
import { disabledSince, isActive, orphanedComputers } from "./_encryption_levels.ts";
import { encryptionState } from "./_encryption_state.ts";
import { formatTable, formatTime } from "./_format.ts";
import { serversHolding } from "./_key_holders.ts";
import { describeRelayHolders, relaysHolding } from "./_relay_key_holders.ts";
import { exists, openExistingStore } from "./_site.ts";

/** Prints the state and the keys of a data dir. */
export async function showEncryptionStatus(dataDir: string, json: boolean): Promise<number> {
  const store = await openExistingStore(dataDir);
  let keys: EncryptionKeyRecord[];
  let computers: ComputerRecord[];
  let disabledAt: number | null;
  let orphaned;
  let servers: ServerRecord[];
  let relays: DecryptingRelayRecord[];
  try {
    keys = await store.listEncryptionKeys();
    servers = await store.listServers();
    relays = await store.listDecryptingRelays();
    computers = (await store.listComputers()).filter(isActive);
    disabledAt = keys.some((key) => key.role === "current") ? null : await disabledSince(store);
    orphaned = (await orphanedComputers(store)).map(({ computer, source }) => ({
      id: computer.id,
      hostname: computer.hostname,
      lastReportAt: computer.lastReportAt,
      levelSource: source,
    }));
  } finally {
    store.close();
  }
  // Per key id, the computers whose last report was encrypted to it.
  const clientsOf = (kid: string) =>
    computers.filter((computer) => computer.lastReportAt !== null && computer.lastKid === kid)
      .length;
  const clientsInClear =
    computers.filter((computer) => computer.lastReportAt !== null && computer.lastKid === null)
      .length;
  const folder = encryptionKeysDir(dataDir);
  const rows = await Promise.all(keys.map(async (key) => ({
    kid: key.kid,
    bits: key.bits,
    role: key.role,
    createdAt: key.createdAt,
    deployedAt: key.deployedAt,
    retiredAt: key.retiredAt,
    privateKeyFile: await exists(joinPath(folder, `${key.kid}.pvk`)),
    // Why this data dir's server cannot use the key's file (the server logs the same), or null.
    privateKeyProblem: key.role === "retired"
      ? null
      : await encryptionKeyFileProblem(dataDir, key.kid),
    clients: clientsOf(key.kid),
    // The servers sharing this store that recorded the key as loaded there.
    servers: serversHolding(servers, key.kid).map((server) => ({
      name: server.name,
      url: server.url,
      live: isServerLive(server, Date.now()),
      lastSeenAt: server.lastSeenAt,
    })),
    // The decrypting relays that recorded the key as loaded there (`_relay_key_holders.ts`).
    relays: relaysHolding(relays, key.kid, Date.now()),
  })));
  const state = encryptionState(keys);
  const currentKid = keys.find((key) => key.role === "current")?.kid ?? null;
  const pendingKid = keys.find((key) => key.role === "pending")?.kid ?? null;
  if (json) {
    console.log(
      JSON.stringify(
        { state, currentKid, pendingKid, keys: rows, clientsInClear, disabledAt, orphaned },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  const lines = [`Encryption: ${state}`];
  lines.push(
    currentKid
      ? `Clients are told to encrypt to: ${currentKid}`
      : "Clients are told to encrypt to: no key (level optional sends clear text; " +
        "level required keeps reports queued)",
  );
  if (pendingKid) {
    lines.push(
      `Pending key: ${pendingKid} (copy it to decrypting relays and DSA servers, then deploy it)`,
    );
  }
  if (disabledAt !== null) lines.push(`Disabled since: ${formatTime(disabledAt)}`);
  const currentProblem = rows.find((row) => row.role === "current")?.privateKeyProblem ?? null;
  if (currentProblem !== null) {
    lines.push(
      `Current key's private key here: ${currentProblem}; until then this server refuses ` +
        "reports encrypted to it (503 ERR_KEY_UNAVAILABLE) and clients keep them queued",
    );
  }
  if (clientsInClear > 0) {
    lines.push(`Computers whose last report was clear text: ${clientsInClear}`);
  }
  if (orphaned.length > 0) {
    lines.push(
      `Orphaned: ${orphaned.length} computer(s) require encryption and have not reported since ` +
        "it was disabled (deploy a key again, or set their level to optional):",
    );
    for (const entry of orphaned.slice(0, 50)) {
      lines.push(
        `  computer ${entry.id} (${entry.hostname ?? "no hostname"}), last report ${
          formatTime(entry.lastReportAt)
        }`,
      );
    }
  }
  console.log(lines.join("\n"));
  if (rows.length > 0) {
    console.log(
      "\n" + formatTable(
        [
          "KEY ID",
          "BITS",
          "ROLE",
          "CLIENTS",
          "CREATED",
          "DEPLOYED",
          "PRIVATE KEY HERE",
          "SERVERS HOLDING IT",
          "DECRYPTING RELAYS HOLDING IT",
        ],
        rows.map((row) => [
          row.kid,
          String(row.bits),
          row.role,
          String(row.clients),
          formatTime(row.createdAt),
          formatTime(row.deployedAt),
          row.privateKeyProblem ?? (row.privateKeyFile ? "yes" : "no"),
          row.servers.length === 0
            ? "-"
            : row.servers.map((server) =>
              server.live ? server.name : `${server.name} (not running)`
            )
              .join(", "),
          describeRelayHolders(row.relays),
        ]),
      ).trimEnd(),
    );
  }
  return EXIT.ok;
}
