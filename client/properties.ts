/**
 * The retrieved properties a client reports, read from the machine.
 *
 * @module
 */

import type { PropertyValue } from "../protocol/report.ts";
import { VERSION } from "../protocol/version.ts";

/** Reads the machine's properties. Each one that cannot be read is reported as null. */
export async function collectProperties(): Promise<Record<string, PropertyValue>> {
  const read = <T>(get: () => T): T | null => {
    try {
      return get();
    } catch {
      return null;
    }
  };
  return {
    hostname: read(() => Deno.hostname()),
    os_name: await osName(),
    os_version: read(() => Deno.osRelease()),
    architecture: Deno.build.arch,
    cpu_count: navigator.hardwareConcurrency ?? null,
    memory_bytes: read(() => Deno.systemMemoryInfo().total),
    ip_addresses: read(() =>
      Deno.networkInterfaces()
        .filter((i) => !i.address.startsWith("127.") && i.address !== "::1")
        .map((i) => i.address)
    ) ?? [],
    uptime_s: read(() => Math.round(Deno.osUptime())),
    agent_version: VERSION,
  };
}

async function osName(): Promise<string> {
  if (Deno.build.os === "linux") {
    try {
      const text = await Deno.readTextFile("/etc/os-release");
      const match = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
      if (match) return match[1];
    } catch {
      // fall back to the kernel's name
    }
  }
  return Deno.build.os;
}
