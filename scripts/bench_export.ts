/**
 * `npm run bench:export [-- --reports N]`: the memory an export takes. Fills a store with N
 * reports (default 1,000,000, over 1,000 computers, about 400 bytes of properties each), then runs
 * the real `mle-admin reports --format csv` and `--format json` from source with the admin tool's
 * shipped permission flags, first over a tenth of the reports, then over all of them, counting and
 * discarding what it writes. It prints the admin process's peak resident memory (`VmHWM`, read
 * from `/proc` while it runs: Linux only) for each, so "an export of a million reports takes no
 * more memory than one" is a figure. It asserts nothing.
 *
 * @module
 */

import { readInteger } from "../cli/flags.ts";
import type { NewReport } from "../store/mod.ts";
import { SqliteStore } from "../store/mod.ts";
import { roleCommand } from "../tests/run_role.ts";
import { readScriptOptions } from "./script_flags.ts";

const COMPUTERS = 1_000;

const { reports } = readScriptOptions(Deno.args, {
  tool: "bench_export",
  flags: { reports: { type: "string" } },
  read: (values) => ({
    reports: readInteger("reports", values.reports, 1_000_000, {
      min: COMPUTERS,
      max: 100_000_000,
    }),
  }),
});

/** What one export run measured. */
interface ExportRun {
  format: string;
  reports: number;
  bytes: number;
  seconds: number;
  peakRssMb: number;
}

async function fill(path: string, count: number): Promise<void> {
  const store = new SqliteStore(path);
  try {
    const ids: number[] = [];
    for (let i = 0; i < COMPUTERS; i++) {
      const computer = await store.registerComputer({
        publicKey: `export-key-${i}`,
        hostIdentity: `host-${i}`,
        hostname: `host-${String(i).padStart(4, "0")}.example`,
        registeredAt: Date.now(),
      });
      ids.push(computer.id);
    }
    const perComputer = Math.ceil(count / COMPUTERS);
    let stored = 0;
    for (let seq = 1; seq <= perComputer && stored < count; seq++) {
      const batch: NewReport[] = [];
      for (let c = 0; c < COMPUTERS && stored + batch.length < count; c++) {
        batch.push({
          computerId: ids[c],
          seq,
          receivedAt: Date.now(),
          encrypted: false,
          kid: null,
          body: JSON.stringify({
            properties: {
              hostname: `host-${c}.example`,
              os_name: c % 2 ? "Debian 12" : "Windows 11",
              ip_address: `10.0.${c >> 8}.${c & 255}`,
              free_disk_mb: 1_000 + ((seq * 7919 + c) % 90_000),
              uptime_s: seq * 900,
            },
            custom: { Department: `dept-${c % 97}`, AssetTag: `TAG-${c}`, Note: "x".repeat(160) },
          }),
          digest: `digest-${c}-${seq}`,
          encryptionLevel: "optional",
        });
      }
      await store.storeReports(batch);
      stored += batch.length;
    }
  } finally {
    store.close();
  }
}

/** Peak resident memory of a running process so far, in MiB (NaN where /proc is not there). */
async function peakRssMb(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function exportOnce(dataDir: string, format: string, limit: number): Promise<ExportRun> {
  const command = roleCommand("admin", [
    "reports",
    "--format",
    format,
    "--limit",
    String(limit),
    "--data-dir",
    dataDir,
  ]);
  const started = performance.now();
  const child = new Deno.Command(command.command, {
    args: command.args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    env: { MLE_DATABASE_URL: "" },
  }).spawn();
  // VmHWM only grows: read while the output flows, the last reading is the peak.
  let peak = 0;
  let bytes = 0;
  for await (const chunk of child.stdout) {
    bytes += chunk.byteLength;
    const now = await peakRssMb(child.pid);
    if (now > peak) peak = now;
  }
  const status = await child.status;
  if (!status.success) throw new Error(`mle-admin reports exited ${status.code}`);
  return {
    format,
    reports: limit,
    bytes,
    seconds: (performance.now() - started) / 1000,
    peakRssMb: peak,
  };
}

const dir = await Deno.makeTempDir({ prefix: "mle-bench-export-" });
try {
  const filling = performance.now();
  await fill(`${dir}/mle-server.db`, reports);
  console.log(
    `filled ${reports.toLocaleString("en")} reports over ${COMPUTERS} computers in ` +
      `${((performance.now() - filling) / 1000).toFixed(1)} s`,
  );
  const runs: ExportRun[] = [];
  for (const format of ["csv", "json"]) {
    for (const limit of [Math.floor(reports / 10), reports]) {
      const run = await exportOnce(dir, format, limit);
      runs.push(run);
      console.log(
        `${format.padEnd(4)} ${run.reports.toLocaleString("en").padStart(11)} reports  ` +
          `${(run.bytes / 2 ** 20).toFixed(0).padStart(6)} MiB out  ` +
          `${run.seconds.toFixed(1).padStart(6)} s  peak RSS ${run.peakRssMb.toFixed(1)} MiB`,
      );
    }
  }
  console.log(JSON.stringify({ reports, runs }));
} finally {
  await Deno.remove(dir, { recursive: true });
}
