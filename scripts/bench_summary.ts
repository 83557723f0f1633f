/**
 * The JSON line `npm run bench` ends with: the rates, ratios, RSA counts and CPU per report of a
 * full run, from its rows.
 *
 * @module
 */

import type { BenchOptions } from "./bench_options.ts";
import type { HostileOutcome } from "./bench_hostile_phases.ts";
import type { Phase } from "./bench_table.ts";

/** The rows and counts of a full run that the summary reads. */
export interface FullRun {
  options: BenchOptions;
  phases: readonly Phase[];
  clear: Phase;
  steady4096: Phase;
  first4096: Phase;
  afterRestart: Phase;
  first2048: Phase;
  steady2048: Phase;
  forgedRsa: number;
  hostile: HostileOutcome;
  viaRelay: { accepted: Phase; delivered: Phase };
  peakRss: number;
  peakHeap: number;
  /** When the run began (`performance.now()`). */
  began: number;
}

/** µs of CPU a report of a phase cost the server and the load generators together. */
function cpuOfAll(phase: Phase): number {
  return (phase.cpu?.server ?? NaN) + (phase.cpu?.load ?? NaN);
}

/** Rounds to `digits` decimals. */
function round(value: number, digits = 1): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

/** The summary of a full run, one flat object (its field names are what the README quotes). */
export function summarizeFullRun(run: FullRun): Record<string, number | string> {
  const { clear, steady4096, steady2048, first4096, first2048, afterRestart, options } = run;
  const { accepted, delivered } = run.viaRelay;
  const steadyReports = steady4096.reports + steady2048.reports;
  const steadyRsa = (steady4096.rsaOps ?? 0) + (steady2048.rsaOps ?? 0);
  const totalReports = run.phases
    .filter((p) =>
      !p.name.startsWith("register") && !p.name.startsWith("forged") &&
      p.name !== "via relay: accepted by relay"
    )
    .reduce((sum, p) => sum + p.reports, 0);
  return {
    plaintext_reports_per_s: round(clear.perSecond),
    encrypted_reports_per_s: round(steady4096.perSecond),
    encrypted_2048_reports_per_s: round(steady2048.perSecond),
    ratio: round(steady4096.perSecond / clear.perSecond, 3),
    rsa_private_ops_per_1000_reports: round((steadyRsa / steadyReports) * 1000, 2),
    p50_ms: round(steady4096.p50!, 2),
    p99_ms: round(steady4096.p99!, 2),
    server_peak_rss_mb: round(run.peakRss / 1024 / 1024),
    relay_reports_per_s: round(accepted.perSecond),
    relay_delivered_reports_per_s: round(delivered.perSecond),
    // The targets: accepted ≥ 0.8 and delivered ≥ 0.7 of the direct 2048-bit rate.
    relay_accepted_ratio_to_direct_2048: round(accepted.perSecond / steady2048.perSecond, 3),
    relay_delivered_ratio_to_direct_2048: round(delivered.perSecond / steady2048.perSecond, 3),
    // The two cores' share of the gap: the CPU of every process a relayed report costs (relay,
    // server, load generators), against a direct one's, and the ratio that alone would give.
    relay_cpu_us_per_report: round(delivered.cpu?.relay ?? NaN, 0),
    server_cpu_us_per_relayed_report: round(delivered.cpu?.server ?? NaN, 0),
    relay_delivered_ratio_if_cpu_bound: round(
      cpuOfAll(steady2048) / (cpuOfAll(delivered) + (delivered.cpu?.relay ?? NaN)),
      3,
    ),
    rsa_private_ops_after_restart_per_1000_reports: round(
      (afterRestart.rsaOps! / afterRestart.reports) * 1000,
      2,
    ),
    rsa_private_ops_first_report_per_1000: round(
      ((first4096.rsaOps! + first2048.rsaOps!) / (first4096.reports + first2048.reports)) * 1000,
      1,
    ),
    rsa_private_ops_for_forged_signatures: run.forgedRsa,
    rsa_private_ops_for_hostile_client: run.hostile.rsaOps,
    hostile_client_reports_refused_429: run.hostile.statuses["429"] ?? 0,
    encrypted_2048_reports_per_s_beside_hostile: round(run.hostile.beside.perSecond),
    server_cpu_us_per_report_plaintext: round(clear.cpu?.server ?? NaN, 0),
    server_cpu_us_per_report_encrypted: round(steady4096.cpu?.server ?? NaN, 0),
    server_event_loop_us_per_report_plaintext: round(clear.cpu?.serverMain ?? NaN, 0),
    server_event_loop_us_per_report_encrypted: round(steady4096.cpu?.serverMain ?? NaN, 0),
    server_heap_total_mb_seen: round(run.peakHeap / 1024 / 1024),
    clients: options.clients,
    reports: totalReports,
    connections: options.connections,
    load_workers: options.workers,
    seconds_per_phase: options.seconds,
    total_seconds: round((performance.now() - run.began) / 1000),
    cpus: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
  };
}
