/**
 * The rows `npm run bench` measures ({@linkcode Phase}), their latency percentiles, and the table
 * it prints before its JSON line.
 *
 * @module
 */

/** One row of the table. */
export interface Phase {
  name: string;
  reports: number;
  seconds: number;
  perSecond: number;
  p50: number | null;
  p99: number | null;
  rsaOps: number | null;
  /**
   * CPU time per report, in microseconds: server (all threads), its event loop, load generators,
   * and, through a relay, the relay (all threads).
   */
  cpu?: { server: number; serverMain: number; load: number; relay?: number };
  /** The server's resident memory at the end of the phase, in bytes. */
  rss?: number;
  note: string;
}

/** The value at `fraction` of sorted values (NaN for none). */
function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * (sorted.length - 1)))];
}

/**
 * A row of what one send gave: its count, time, rate and latency percentiles, with the rest of
 * the row.
 */
export function sentRow(
  name: string,
  sent: { acked: number; seconds: number; latencies: number[] },
  rest: Pick<Phase, "rsaOps" | "note" | "rss">,
): Phase {
  return {
    name,
    reports: sent.acked,
    seconds: sent.seconds,
    perSecond: sent.acked / sent.seconds,
    ...percentiles(sent.latencies),
    ...rest,
  };
}

/** The median and 99th percentile of latencies, in ms. */
export function percentiles(latencies: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(latencies).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** What the table's title says of the run. */
export interface BenchLoad {
  clients: number;
  connections: number;
  workers: number;
  seconds: number;
}

/** Prints the phases as a table to stdout, titled with the load that made them. */
export function printTable(phases: readonly Phase[], load: BenchLoad): void {
  const header = [
    "phase",
    "reports",
    "seconds",
    "reports/s",
    "p50 ms",
    "p99 ms",
    "RSA ops",
    "server CPU µs",
    "event loop µs",
    "load gen µs",
    "RSS MB",
    "note",
  ];
  const body = phases.map((p) => [
    p.name,
    String(p.reports),
    p.seconds.toFixed(2),
    Math.round(p.perSecond).toString(),
    p.p50 === null ? "-" : p.p50.toFixed(2),
    p.p99 === null ? "-" : p.p99.toFixed(2),
    p.rsaOps === null ? "-" : String(p.rsaOps),
    ...(["server", "serverMain", "load"] as const).map((which) => {
      const value = p.cpu?.[which];
      return value === undefined || !Number.isFinite(value) ? "-" : Math.round(value).toString();
    }),
    p.rss === undefined ? "-" : (p.rss / 1024 / 1024).toFixed(0),
    p.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((
      cell,
      i,
    ) => (i === 0 || i === row.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join("  ").trimEnd();
  console.log(
    `\nmle ingest benchmark: ${load.clients} clients, ${load.connections} connections from ` +
      `${load.workers} load-generator processes, ${load.seconds} s per timed phase; Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} CPUs\n`,
  );
  console.log(line(header));
  for (const row of body) console.log(line(row));
  console.log(
    "\nCPU columns: per stored report, µs of CPU used by the whole server process, by its event-loop" +
      "\nthread alone, and by the load generators; RSS MB: the server's resident memory after the phase.\n",
  );
}
