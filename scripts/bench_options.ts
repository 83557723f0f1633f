/**
 * The command line of `npm run bench` (`scripts/bench.ts`): its usage and its options, read
 * through `cli/flags.ts` (bounded numbers; a misuse exits 2 before anything starts).
 *
 * @module
 */

import { readChoice, readInteger, readNumber } from "../cli/flags.ts";
import { readScriptOptions } from "./script_flags.ts";

/** The usage `npm run bench -- --help` prints. */
export const BENCH_USAGE =
  `Usage: deno run --allow-all scripts/bench.ts [options]     (npm run bench)

Measures report ingest with real processes on 127.0.0.1: a server, load-generator processes
playing simulated clients, and a relay. Prints a table, then one JSON object as the last line.

Options:
  --clients N            simulated clients, each with its own key pair and computer id (default 1000)
  --seconds S            length of each timed phase (default 8)
  --connections N        concurrent HTTP connections in all (default 32)
  --workers N            load-generator processes (default 2)
  --relay-concurrency N  the relay's --concurrency towards the server (default: the relay's own)
  --keep                 keep the temporary folder (server and relay data dirs)
  --profile DIR          run the server with --cpu-prof, writing V8 CPU profiles into DIR
  --database postgres    measure ingest (registration, first and steady-state reports) twice:
                         one server on SQLite, then two servers sharing a private, durable
                         PostgreSQL on this machine (the load split between them); prints
                         encrypted_reports_per_s of both and their ratio (default sqlite: the
                         full run on SQLite)
  -h, --help             show this help

Examples:
  npm run bench
  npm run bench -- --clients 2000 --seconds 15
  npm run bench -- --database postgres

Exit codes:
  0  measured (targets missed are reported, not failed)
  1  the run failed (a process did not start, a report was refused, a stored count is off)
  2  misuse of the command line
`;

/** What `npm run bench` was asked to measure. */
export interface BenchOptions {
  /** Simulated clients, each with its own key pair and computer id. */
  clients: number;
  /** Length of each timed phase, in seconds. */
  seconds: number;
  /** Concurrent HTTP connections in all. */
  connections: number;
  /** Load-generator processes. */
  workers: number;
  /** The relay's `--concurrency` towards the server; the relay's own default when undefined. */
  relayConcurrency: number | undefined;
  /** Keep the temporary folder. */
  keep: boolean;
  /** Run the server with `--cpu-prof`, writing its profiles into this folder. */
  profile: string | undefined;
  /** `postgres`: the ingest phases on SQLite then on PostgreSQL; `sqlite`: the full run. */
  database: "sqlite" | "postgres";
}

/** Reads the options of `npm run bench`; `--help` prints the usage and exits 0, a misuse exits 2. */
export function readBenchOptions(args: readonly string[]): BenchOptions {
  return readScriptOptions(args, {
    tool: "bench",
    flags: {
      clients: { type: "string" },
      seconds: { type: "string" },
      connections: { type: "string" },
      workers: { type: "string" },
      "relay-concurrency": { type: "string" },
      keep: { type: "boolean" },
      profile: { type: "string", path: true },
      database: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    read: (values) => {
      const workers = readInteger("workers", values.workers, 2, { min: 1, max: 16 });
      return {
        clients: readInteger("clients", values.clients, 1000, { min: 1, max: 100_000 }),
        seconds: readNumber("seconds", values.seconds, 8, { min: 1, max: 600, unit: "seconds" }),
        workers,
        // At least one connection per load generator.
        connections: readInteger("connections", values.connections, 32, {
          min: workers,
          max: 1024,
        }),
        relayConcurrency: readInteger("relay-concurrency", values["relay-concurrency"], undefined, {
          min: 1,
          max: 64,
        }),
        keep: values.keep === true,
        profile: values.profile,
        database: readChoice("database", values.database, "sqlite", ["sqlite", "postgres"]),
      };
    },
    usage: BENCH_USAGE,
  });
}
