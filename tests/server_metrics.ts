/**
 * Test support: what the operations listener of a server or relay says (Prometheus samples, the
 * server's counters as JSON).
 *
 * @module
 */

import { OPS_PATHS } from "../protocol/paths.ts";
import type { ServerProcess } from "./role_processes.ts";

/** GETs a path of an operations listener: its status and text. */
export async function opsGet(
  opsPort: number,
  path: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${opsPort}${path}`);
  return { status: response.status, text: await response.text() };
}

/**
 * The value of one sample in a Prometheus text exposition (`name{labels}` exactly as written,
 * or a bare name), or undefined when absent.
 */
export function metricValue(exposition: string, sample: string): number | undefined {
  for (const line of exposition.split("\n")) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}

/** What the tests read of the server's counters (`GET /api/v1/metrics` on its ops listener). */
export interface ServerMetrics {
  rsaPrivateOps: number;
  reportsStored: number;
  keysLoaded: number;
  bundlesOpened: number;
  reportsInBundles: number;
  bundleReportsRefused: number;
  contentKeyVault: { hits: number; misses: number; stored: number };
  contentKeySource: { failuresRemembered: number; refusedOverBudget: number; refusedBusy: number };
}

/** The server's counters, read from its operations listener. */
export async function serverMetrics(server: ServerProcess): Promise<ServerMetrics> {
  const response = await fetch(`http://127.0.0.1:${server.opsPort}${OPS_PATHS.metrics}`);
  if (response.status !== 200) {
    throw new Error(`metrics: HTTP ${response.status}: ${await response.text()}`);
  }
  return await response.json();
}
