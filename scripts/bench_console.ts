/**
 * `npm run bench:console`: fills a store with 100,000 computers (one report each, levels and keys
 * mixed, some revoked) and times the console's queries on it: a computer page with each filter,
 * sorted, deep in the list, a search by property value, and the overview counts. It prints
 * figures; it asserts nothing (timings depend on the machine).
 *
 * Usage: deno run --allow-all scripts/bench_console.ts [--computers N] [--runs R]
 *   --computers N   computers in the store, 1 to 10000000 (default 100000)
 *   --runs R        times each query runs, 1 to 10000 (default 20)
 *
 * @module
 */

import { readInteger } from "../cli/flags.ts";
import { FIRST_COMPUTER_PAGE, SqliteStore } from "../store/mod.ts";
import type { NewReport } from "../store/mod.ts";
import { readScriptOptions } from "./script_flags.ts";

const { count, runs } = readScriptOptions(Deno.args, {
  tool: "bench_console",
  flags: { computers: { type: "string" }, runs: { type: "string" } },
  read: (values) => ({
    count: readInteger("computers", values.computers, 100_000, { min: 1, max: 10_000_000 }),
    runs: readInteger("runs", values.runs, 20, { min: 1, max: 10_000 }),
  }),
});
const dir = await Deno.makeTempDir({ prefix: "mle-bench-console-" });
const store = new SqliteStore(`${dir}/mle-server.db`);
const kids = ["a".repeat(40), "b".repeat(40), null];
const levels = ["required", "optional", "none"];
const now = Date.now();

try {
  let started = performance.now();
  const batch = 5_000;
  for (let first = 0; first < count; first += batch) {
    const reports: NewReport[] = [];
    for (let i = first; i < Math.min(count, first + batch); i++) {
      const computer = await store.registerComputer({
        publicKey: `bench-key-${i}`,
        hostIdentity: `host-${i}`,
        hostname: `host-${String(i).padStart(6, "0")}.example`,
        registeredAt: now - 30 * 86_400_000,
      });
      const kid = kids[i % 3];
      reports.push({
        computerId: computer.id,
        seq: 1,
        receivedAt: now - (i % 1000) * 60_000,
        encrypted: kid !== null,
        kid,
        body: JSON.stringify({
          properties: { hostname: `host-${i}`, os_name: i % 2 ? "Debian 12" : "Windows 11" },
          custom: { Department: `dept-${i % 97}`, AssetTag: `TAG-${i}` },
        }),
        digest: `digest-${i}`,
        encryptionLevel: levels[i % 3],
      });
    }
    await store.storeReports(reports);
  }
  for (let id = 1; id <= count; id += 50) await store.revokeComputer(id, now);
  console.log(
    `filled ${count} computers in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const base = FIRST_COMPUTER_PAGE;
  const cases: Array<[string, () => Promise<unknown>]> = [
    ["first page, by id", () => store.queryComputers(base)],
    ["page 1000, by id", () => store.queryComputers({ ...base, offset: 999 * 50 })],
    [
      "by last report, descending",
      () => store.queryComputers({ ...base, sort: "lastReport", descending: true }),
    ],
    [
      "by hostname, page 500",
      () => store.queryComputers({ ...base, sort: "hostname", offset: 499 * 50 }),
    ],
    ["level required", () => store.queryComputers({ ...base, level: "required" })],
    ["key a…a", () => store.queryComputers({ ...base, kid: "a".repeat(40) })],
    [
      "clear text, state revoked",
      () => store.queryComputers({ ...base, kid: "clear", state: "revoked" }),
    ],
    [
      "reported in the last hour",
      () => store.queryComputers({ ...base, reportedSince: now - 3_600_000 }),
    ],
    ["search by id", () => store.queryComputers({ ...base, search: "77777" })],
    ["search by hostname", () => store.queryComputers({ ...base, search: "host-04242" })],
    ["search by property value", () => store.queryComputers({ ...base, search: "TAG-98765" })],
    ["overview counts", () => store.summarizeComputers(null)],
    ["reports per hour (24 h)", () => store.reportsPerHour(now - 86_400_000)],
  ];
  console.log(`\nquery (${runs} runs each)                 median ms   max ms`);
  for (const [name, run] of cases) {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      started = performance.now();
      await run();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(
      `${name.padEnd(40)} ${times[Math.floor(runs / 2)].toFixed(1).padStart(9)} ${
        times[runs - 1].toFixed(1).padStart(8)
      }`,
    );
  }
} finally {
  store.close();
  await Deno.remove(dir, { recursive: true });
}
