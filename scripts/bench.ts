/**
 * `npm run bench`: ingest throughput with and without MLE, measured end to end on loopback.
 *
 * A real `mle-server` (from source, with its shipped permission flags) on a site made with the
 * real admin tool; simulated clients in separate load-generator processes (`bench_load.ts`), each
 * client with its own Ed25519 key pair and computer id, registered over HTTP; reports of about
 * 1 KiB of properties, first signed clear text, then encrypted to a 4096-bit key, then (after a
 * server restart on the same data dir) again, then to a 2048-bit key, then beside one hostile
 * registered client that sends 1,000 reports each under a fresh wrapped key (its RSA cost must
 * stay within its budget of new keys while the others' throughput holds), then through a relay.
 * The RSA private-key operations are the server's own count (`GET /api/v1/metrics` on its operations
 * listener).
 *
 * Reports are sealed before each timed phase (see bench_load.ts): generating them while sending
 * would take cores from the server on this two-core machine.
 *
 * Prints a table, then one JSON object as the last line.
 *
 * @module
 */

import { measureForged, measureHostileClient } from "./bench_hostile_phases.ts";
import { type BenchOptions, readBenchOptions } from "./bench_options.ts";
import {
  measure2048,
  measureAfterRestart,
  measureClearAndSteady,
  measureFirstReports,
  measureViaRelay,
} from "./bench_phases.ts";
import { type BenchBackend, BenchSession } from "./bench_session.ts";
import { summarizeFullRun } from "./bench_summary.ts";
import { type Phase, printTable } from "./bench_table.ts";

/** What an ingest-only run (`--database postgres`) measured of one backend. */
interface IngestOnly {
  clear: Phase;
  steady4096: Phase;
  servers: number;
  /** Its rows, for the table. */
  phases: Phase[];
}

/** The full run on SQLite: every phase, then the table and the summary line. */
async function runFull(options: BenchOptions): Promise<number> {
  const began = performance.now();
  const session = await BenchSession.create(options);
  try {
    const kid4096 = await session.setUp();
    await session.register();
    const first4096 = await measureFirstReports(session, 4096, kid4096);
    const { clear, steady4096 } = await measureClearAndSteady(session);
    const rateGuess = Math.max(clear.perSecond, steady4096.perSecond, 500);
    const afterRestart = await measureAfterRestart(session, rateGuess);
    const { rsaOps: forgedRsa } = await measureForged(session);
    const { first2048, steady2048 } = await measure2048(session, rateGuess);
    const hostile = await measureHostileClient(session, rateGuess);
    const viaRelay = await measureViaRelay(session, rateGuess);
    const { phases, peakRss, peakHeap } = session;
    printTable(phases, options);
    console.log(JSON.stringify(summarizeFullRun({
      options,
      phases,
      clear,
      steady4096,
      first4096,
      afterRestart,
      first2048,
      steady2048,
      forgedRsa,
      hostile,
      viaRelay,
      peakRss,
      peakHeap,
      began,
    })));
    return 0;
  } finally {
    await session.close();
  }
}

/** Registration, first and steady-state reports only, on `backend`; gives their rows. */
async function runIngestOnly(
  options: BenchOptions,
  backend: BenchBackend,
): Promise<IngestOnly> {
  const session = await BenchSession.create(options, backend);
  try {
    const kid4096 = await session.setUp();
    await session.register();
    await measureFirstReports(session, 4096, kid4096);
    const { clear, steady4096 } = await measureClearAndSteady(session);
    return { clear, steady4096, servers: session.ports.length, phases: session.phases };
  } finally {
    await session.close();
  }
}

/** `--database postgres`: the ingest phases on SQLite, then on PostgreSQL, side by side. */
async function compareBackends(options: BenchOptions): Promise<number> {
  const round = (value: number) => Math.round(value * 10) / 10;
  const of = (run: IngestOnly) => ({
    plaintext_reports_per_s: round(run.clear.perSecond),
    encrypted_reports_per_s: round(run.steady4096.perSecond),
    p50_ms: round(run.steady4096.p50!),
    p99_ms: round(run.steady4096.p99!),
    servers: run.servers,
  });
  const sqlite = await runIngestOnly(options, "sqlite");
  const postgres = await runIngestOnly(options, "postgres");
  printTable([...sqlite.phases, ...postgres.phases], options);
  console.log(JSON.stringify({
    sqlite: of(sqlite),
    postgres: of(postgres),
    postgres_vs_sqlite_encrypted: Math.round(
      (postgres.steady4096.perSecond / sqlite.steady4096.perSecond) * 1000,
    ) / 1000,
    clients: options.clients,
    connections: options.connections,
    load_workers: options.workers,
    seconds_per_phase: options.seconds,
    cpus: navigator.hardwareConcurrency,
  }));
  return 0;
}

if (import.meta.main) {
  const options = readBenchOptions(Deno.args);
  try {
    Deno.exit(
      options.database === "postgres" ? await compareBackends(options) : await runFull(options),
    );
  } catch (error) {
    console.error(`bench: error: ${(error as Error).stack ?? error}`);
    Deno.exit(1);
  }
}
