/**
 * Where the machine's identity comes from, for duplicate detection (never a credential), as
 * osquery's `--host_identifier`: `machine` (the OS machine id or hardware UUID, with hostname and
 * MAC addresses) or `instance` (a random id made once and kept in the data dir, outside
 * KeyStorage, so it survives a key rotation).
 *
 * @module
 */

import { createSecretFile, joinPath } from "../keystore/secure_file.ts";

/** One of the two sources. */
export type HostIdentifierKind = "machine" | "instance";

/** Computes the host identity string sent at registration. */
export async function hostIdentity(kind: HostIdentifierKind, dataDir: string): Promise<string> {
  if (kind === "instance") return `instance:${await instanceId(dataDir)}`;
  const parts = [await machineId(), Deno.hostname(), ...macAddresses()].join("|");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts));
  return `machine:${new Uint8Array(digest).toHex()}`;
}

async function instanceId(dataDir: string): Promise<string> {
  const path = joinPath(dataDir, "instance-id");
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const id = crypto.randomUUID();
  await createSecretFile(path, id + "\n").catch(() => {});
  return (await Deno.readTextFile(path)).trim();
}

async function machineId(): Promise<string> {
  for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      const id = (await Deno.readTextFile(path)).trim();
      if (id) return id;
    } catch {
      // try the next source
    }
  }
  return "";
}

function macAddresses(): string[] {
  try {
    return [
      ...new Set(
        Deno.networkInterfaces().map((i) => i.mac).filter((mac) =>
          mac && mac !== "00:00:00:00:00:00"
        ),
      ),
    ].sort();
  } catch {
    return [];
  }
}
