/**
 * The server process's memory, for `GET /api/v1/metrics`: what the benchmark reads as its peak RSS.
 *
 * @module
 */

import process from "node:process";

/** Resident memory now and at its peak since start, in bytes. */
export interface ProcessMemory {
  rssBytes: number;
  /** The kernel's high-water mark (getrusage `ru_maxrss`), never below the current RSS. */
  peakRssBytes: number;
  /** The event loop's V8 heap, reserved and used. */
  heapTotalBytes: number;
  heapUsedBytes: number;
}

/**
 * Reads the process's resident memory. `Deno.memoryUsage()` and `process.resourceUsage()` need no
 * permission beyond what the server already has (reading `/proc/self/status` would need all).
 *
 * @example
 * ```ts
 * import { processMemory } from "./process_metrics.ts";
 * const { rssBytes, peakRssBytes } = processMemory();
 * console.log(peakRssBytes >= rssBytes); // true
 * ```
 */
export function processMemory(): ProcessMemory {
  const { rss: rssBytes, heapTotal, heapUsed } = Deno.memoryUsage();
  let peak = 0;
  try {
    peak = process.resourceUsage().maxRSS * 1024; // kilobytes on Linux
  } catch {
    // not available here: the current RSS is the best known peak
  }
  return {
    rssBytes,
    peakRssBytes: Math.max(peak, rssBytes),
    heapTotalBytes: heapTotal,
    heapUsedBytes: heapUsed,
  };
}
