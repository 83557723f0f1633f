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

import { parseArgs } from "node:util";
import { admin } from "../tests/deployment.ts";
import { freePort, roleCommand, RoleProcess } from "../tests/run_role.ts";
import { API } from "../protocol/paths.ts";
import type { Command } from "./bench_load.ts";
import { type BenchDatabase, openBenchDatabase } from "./bench_postgres.ts";

const HELP = `Usage: deno run --allow-all scripts/bench.ts [options]     (npm run bench)

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

const { values } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        clients: { type: "string", default: "1000" },
        seconds: { type: "string", default: "8" },
        connections: { type: "string", default: "32" },
        workers: { type: "string", default: "2" },
        "relay-concurrency": { type: "string" },
        keep: { type: "boolean", default: false },
        profile: { type: "string" },
        database: { type: "string", default: "sqlite" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    console.error(`bench: error: ${(error as Error).message}`);
    console.error("bench: hint: see npm run bench -- --help");
    Deno.exit(2);
  }
})();
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
if (values.database !== "sqlite" && values.database !== "postgres") {
  console.error(
    `bench: error: unknown --database "${values.database}": expected sqlite or postgres`,
  );
  Deno.exit(2);
}
function intOption(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(
      `bench: error: --${name} must be an integer from ${min} to ${max}, got "${text}"`,
    );
    Deno.exit(2);
  }
  return value;
}
const CLIENTS = intOption("clients", values.clients!, 1, 100_000);
const SECONDS = Number(values.seconds);
if (!(SECONDS >= 1 && SECONDS <= 600)) {
  console.error(`bench: error: --seconds must be from 1 to 600, got "${values.seconds}"`);
  Deno.exit(2);
}
const WORKERS = intOption("workers", values.workers!, 1, 16);
const CONNECTIONS = intOption("connections", values.connections!, WORKERS, 1024);
const RELAY_CONCURRENCY = values["relay-concurrency"] === undefined
  ? undefined
  : intOption("relay-concurrency", values["relay-concurrency"], 1, 64);
/** Upper bound of reports one timed phase needs before the first measurement (reports/s). */
const FIRST_RATE_GUESS = 7_000;

function say(line: string): void {
  console.error(`bench: ${line}`);
}

/** A load-generator process, asked one JSON command per line. */
class LoadWorker {
  readonly #child: Deno.ChildProcess;
  readonly pid: number;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  constructor() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        "--allow-net=127.0.0.1",
        "--allow-read",
        new URL("./bench_load.ts", import.meta.url).pathname,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>(
        {
          pending: "",
          transform(chunk, controller) {
            const self = this as unknown as { pending: string };
            self.pending = (self.pending ?? "") + chunk;
            let newline;
            while ((newline = self.pending.indexOf("\n")) >= 0) {
              controller.enqueue(self.pending.slice(0, newline));
              self.pending = self.pending.slice(newline + 1);
            }
          },
        } as Transformer<string, string> & { pending: string },
      ),
    )[Symbol.asyncIterator]();
  }

  // deno-lint-ignore no-explicit-any
  async ask(command: Command): Promise<any> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("a load generator exited");
    const answer = JSON.parse(value);
    if (!answer.ok) throw new Error(`load generator failed: ${answer.error}`);
    return answer;
  }

  async close(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify({ cmd: "exit" }) + "\n"));
      await this.#writer.close();
    } catch {
      // already gone
    }
    await this.#child.status;
  }
}

interface Metrics {
  rsaPrivateOps: number;
  reportsStored: number;
  reportsStoredSinceStart?: number;
  peakRssBytes?: number;
  rssBytes?: number;
  [name: string]: unknown;
}

/** The server's count of stored reports, cheap when it keeps one in memory (else count(*)). */
function storedCount(m: Metrics): number {
  return m.reportsStoredSinceStart ?? m.reportsStored;
}

/** The operations listener's port of the server on each public port (`--ops-listen`). */
const opsPorts = new Map<number, number>();

/** The counters of the server on `port`, read from its operations listener. */
async function metrics(port: number): Promise<Metrics> {
  const response = await fetch(`http://127.0.0.1:${opsPorts.get(port)}${API.metrics}`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 200) throw new Error(`metrics: HTTP ${response.status}`);
  return await response.json();
}

/**
 * The counters of the servers on `ports` together: RSA operations and reports stored since
 * start summed; `reportsStored` (a count of the shared database) from the first.
 */
async function metricsOf(ports: number[]): Promise<Metrics> {
  const all = await Promise.all(ports.map(metrics));
  return {
    ...all[0],
    rsaPrivateOps: all.reduce((sum, m) => sum + m.rsaPrivateOps, 0),
    reportsStoredSinceStart: all.reduce((sum, m) => sum + storedCount(m), 0),
  };
}

/** One row of the table. */
interface Phase {
  name: string;
  reports: number;
  seconds: number;
  perSecond: number;
  p50: number | null;
  p99: number | null;
  rsaOps: number | null;
  /** CPU time per report, in microseconds: server (all threads), its event loop, load generators. */
  cpu?: { server: number; serverMain: number; load: number };
  /** The server's resident memory at the end of the phase, in bytes. */
  rss?: number;
  note: string;
}

const phases: Phase[] = [];

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * (sorted.length - 1)))];
}

/** What one run (or slice) of sends gave. */
interface Sent {
  acked: number;
  seconds: number;
  latencies: number[];
  exhausted: boolean;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
}

/**
 * Sends from the workers' pool `pool` to `port` for at most `durationMs`; returns the
 * acknowledged count (answers `expectStatus`), the elapsed time and the latencies. Any answer
 * other than `expectStatus` or one of `alsoAllowed` fails the run.
 */
async function drive(
  workers: LoadWorker[],
  pool: string,
  port: number | number[],
  durationMs: number,
  expectStatus: number,
  alsoAllowed: number[] = [],
  connections = CONNECTIONS,
): Promise<Sent> {
  const perWorker = Math.max(1, Math.floor(connections / workers.length));
  // Several servers: each worker (and so each of its clients) always sends to the same one.
  const ports = [port].flat();
  const answers = await Promise.all(
    workers.map((worker, i) =>
      worker.ask({
        cmd: "run",
        pool,
        port: ports[i % ports.length],
        connections: perWorker,
        durationMs,
      })
    ),
  );
  let acked = 0;
  let seconds = 0;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  for (const answer of answers) {
    for (const [status, count] of Object.entries(answer.statuses as Record<string, number>)) {
      statuses[status] = (statuses[status] ?? 0) + count;
    }
    acked += (answer.statuses as Record<string, number>)[expectStatus] ?? 0;
    seconds = Math.max(seconds, answer.elapsedMs / 1000);
    for (const ms of answer.latencies as number[]) latencies.push(ms);
  }
  const allowed = [expectStatus, ...alsoAllowed];
  const unexpected = Object.entries(statuses).filter(([status]) =>
    !allowed.includes(Number(status))
  );
  if (unexpected.length > 0) {
    throw new Error(`unexpected answers: ${JSON.stringify(statuses)} (expected ${allowed})`);
  }
  return {
    acked,
    seconds,
    latencies,
    exhausted: answers.every((answer) => answer.exhausted),
    statuses,
  };
}

/** The median and 99th percentile of latencies, in ms. */
function percentiles(latencies: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(latencies).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

async function prepareAll(
  workers: LoadWorker[],
  command: Extract<Command, { cmd: "prepare" }>,
): Promise<{ prepared: number; newContentKeys: number; ms: number; meanRequestBytes: number }> {
  const answers = await Promise.all(workers.map((worker) => worker.ask(command)));
  return {
    prepared: answers.reduce((sum, a) => sum + a.prepared, 0),
    newContentKeys: answers.reduce((sum, a) => sum + a.newContentKeys, 0),
    ms: Math.max(...answers.map((a) => a.ms)),
    meanRequestBytes: answers[0].meanRequestBytes,
  };
}

/** Reports each client needs for a timed phase at `rate` reports/s (with a margin). */
function perClientFor(rate: number, seconds = SECONDS): number {
  return Math.max(1, Math.ceil((rate * 1.3 * seconds) / CLIENTS));
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function certificateKid(port: number): Promise<string | null> {
  const response = await fetch(`http://127.0.0.1:${port}${API.encryptionCertificate}`);
  if (response.status !== 200) {
    await response.body?.cancel();
    return null;
  }
  const document = await response.json();
  const payload = JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(document.payload, { alphabet: "base64url" })),
  );
  return payload.kid ?? null;
}

async function generateKey(
  serverDir: string,
  siteKey: string,
  size: "min" | "max",
  env: Record<string, string> = {},
) {
  const result = await admin([
    "-reportencryption",
    "-generatekey",
    `-privateKeySize=${size}`,
    "-deploynow=yes",
    `-sitePvkLocation=${siteKey}`,
    "--data-dir",
    serverDir,
  ], env);
  const kid = /[0-9a-f]{40}/.exec(result.stdout)?.[0];
  if (!kid) throw new Error(`no key id in: ${result.stdout}`);
  return kid;
}

/** The server as a process, or (with --profile) the same command plus V8 CPU profiling. */
type ServerProcess = Pick<RoleProcess, "waitFor" | "stop"> & { pid: number };

/**
 * CPU seconds used so far by a process (all its threads, ended ones included: `stat`, in clock
 * ticks), or by one of its threads (`schedstat`, in nanoseconds); NaN without /proc.
 */
function cpuSeconds(pid: number, thread?: number): number {
  try {
    if (thread !== undefined) {
      const schedstat = Deno.readTextFileSync(`/proc/${pid}/task/${thread}/schedstat`);
      return Number(schedstat.split(" ")[0]) / 1e9;
    }
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ)
  } catch {
    return NaN;
  }
}

/** CPU used so far: the server (all threads), its event-loop thread, the load generators. */
interface CpuSnapshot {
  server: number;
  serverMain: number;
  load: number;
}

function cpuSnapshot(server: ServerProcess, workers: LoadWorker[]): CpuSnapshot {
  return {
    server: cpuSeconds(server.pid),
    serverMain: cpuSeconds(server.pid, server.pid),
    load: workers.reduce((sum, worker) => sum + cpuSeconds(worker.pid), 0),
  };
}

/** CPU per report between two snapshots, in microseconds. */
function cpuPerReport(from: CpuSnapshot, to: CpuSnapshot, reports: number): Phase["cpu"] {
  const per = (a: number, b: number) => ((b - a) / reports) * 1e6;
  return {
    server: per(from.server, to.server),
    serverMain: per(from.serverMain, to.serverMain),
    load: per(from.load, to.load),
  };
}

function startServer(serverDir: string, port: number, extra: string[] = []): ServerProcess {
  const opsPort = opsPorts.get(port) ?? freePort();
  opsPorts.set(port, opsPort);
  const args = [
    "run",
    "--data-dir",
    serverDir,
    "--listen",
    `127.0.0.1:${port}`,
    "--ops-listen",
    `127.0.0.1:${opsPort}`,
    "--console-listen",
    "off",
    ...extra,
  ];
  if (values.profile === undefined) {
    const process = new RoleProcess("server", args);
    return Object.assign(process, { pid: process.child.pid });
  }
  const command = roleCommand("server", args);
  const child = new Deno.Command(command.command, {
    args: ["run", "--cpu-prof", `--cpu-prof-dir=${values.profile}`, ...command.args.slice(1)],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return {
    pid: child.pid,
    waitFor: async () => {
      await waitUntil("the profiled server to listen", async () => {
        try {
          await metrics(port);
          return true;
        } catch {
          return false;
        }
      }, 20_000);
    },
    stop: async () => {
      child.kill("SIGTERM");
      return await child.status;
    },
  };
}

/** What an ingest-only run (`--database postgres`) measured of one backend. */
interface IngestOnly {
  clear: Phase;
  steady4096: Phase;
  servers: number;
}

/**
 * The full run on SQLite; or, given `backend`, only registration, first and steady-state reports
 * on that backend (PostgreSQL: two servers on the database, the load split between them).
 */
async function main(backend?: "sqlite" | "postgres"): Promise<number | IngestOnly> {
  const began = performance.now();
  const root = await Deno.makeTempDir({ prefix: "mle-bench-" });
  const serverDir = `${root}/server`;
  let database: BenchDatabase | null = null;
  let secondServer: ServerProcess | null = null;
  const ports: number[] = [];
  const siteKey = `${root}/site/license.pvk`;
  const masthead = `${root}/site/masthead.json`;
  const serverPort = freePort();
  const relayPort = freePort();
  let server: ServerProcess | null = null;
  let relay: RoleProcess | null = null;
  const workers: LoadWorker[] = [];
  /** Load generators outside the well-behaved clients' (the hostile client's). */
  const extraWorkers: LoadWorker[] = [];
  let peakRss = 0;
  let peakHeap = 0;
  const notePeak = (m: Metrics) => {
    peakRss = Math.max(peakRss, m.peakRssBytes ?? 0, m.rssBytes ?? 0);
    peakHeap = Math.max(peakHeap, (m.heapTotalBytes as number | undefined) ?? 0);
  };
  try {
    say(`site, 4096-bit key and server in ${root}`);
    await Deno.mkdir(`${root}/site`, { mode: 0o700 });
    if (backend === "postgres") database = await openBenchDatabase(root);
    const env = database?.adminEnv ?? {};
    const serverArgs = database?.serverArgs ?? [];
    await admin([
      "init-site",
      "--data-dir",
      serverDir,
      "--site-key",
      siteKey,
      "--masthead",
      masthead,
      "--server-url",
      `http://127.0.0.1:${serverPort}`,
    ], env);
    const kid4096 = await generateKey(serverDir, siteKey, "max", env);
    server = startServer(serverDir, serverPort, [...serverArgs, "--server-name", "a"]);
    await server.waitFor("listening on");
    ports.push(serverPort);
    if (database) {
      // The second server: its own data dir holding the same private key, the same database.
      const secondPort = freePort();
      await database.copyKeys(serverDir, `${root}/server-b`);
      secondServer = startServer(`${root}/server-b`, secondPort, [
        ...serverArgs,
        "--server-name",
        "b",
      ]);
      await secondServer.waitFor("listening on");
      ports.push(secondPort);
    }
    for (let i = 0; i < WORKERS; i++) workers.push(new LoadWorker());

    // Registration.
    say(`registering ${CLIENTS} clients`);
    let before = await metrics(serverPort);
    let started = performance.now();
    const registered = await Promise.all(workers.map((worker, i) =>
      worker.ask({
        cmd: "register",
        port: serverPort,
        count: Math.floor(CLIENTS / WORKERS) + (i < CLIENTS % WORKERS ? 1 : 0),
        concurrency: 8,
        tag: `w${i}`,
      })
    ));
    const registrationSeconds = (performance.now() - started) / 1000;
    const failures = registered.reduce((sum, r) => sum + r.failures, 0);
    if (failures > 0) throw new Error(`registration failed: ${registered[0].firstFailure}`);
    const registeredMetrics = await metrics(serverPort);
    notePeak(registeredMetrics);
    phases.push({
      name: backend ? `${backend}: register clients` : "register clients",
      reports: CLIENTS,
      seconds: registrationSeconds,
      perSecond: CLIENTS / registrationSeconds,
      p50: null,
      p99: null,
      rsaOps: registeredMetrics.rsaPrivateOps - before.rsaPrivateOps,
      rss: registeredMetrics.rssBytes,
      note: "Ed25519 key pair each; registrations/s",
    });

    /** Seals reports into a pool of every worker. */
    const seal = async (
      pool: string,
      mode: "clear" | "encrypt" | "fresh-keys",
      perClient: number,
    ): Promise<void> => {
      const sealed = await prepareAll(workers, {
        cmd: "prepare",
        pool,
        mode,
        perClient,
        port: serverPort,
        masthead,
      });
      say(
        `${pool}: sealed ${sealed.prepared} reports (${sealed.meanRequestBytes} bytes per HTTP ` +
          `request, ${sealed.newContentKeys} new content keys) in ${
            (sealed.ms / 1000).toFixed(1)
          } s`,
      );
    };

    /**
     * Sends pools to the server in turns of `sliceMs` until each had `totalMs` (or ran out), and
     * makes one row per pool. Taking turns gives every pool the same share of whatever else the
     * machine is doing meanwhile, so their rates can be compared. Every acknowledged report must be
     * stored: the server's count of stored reports must grow by exactly as many.
     */
    const measure = async (
      rows: Array<{ name: string; pool: string; note: string }>,
      totalMs: number,
      sliceMs = totalMs,
    ): Promise<Phase[]> => {
      const totals = rows.map(() => ({
        acked: 0,
        seconds: 0,
        latencies: [] as number[],
        rsaOps: 0,
        exhausted: false,
        cpu: { server: 0, serverMain: 0, load: 0 },
      }));
      const countBefore = (await metricsOf(ports)).reportsStored;
      for (let spent = 0; spent < totalMs && totals.some((t) => !t.exhausted); spent += sliceMs) {
        for (const [i, row] of rows.entries()) {
          if (totals[i].exhausted) continue;
          const m0 = await metricsOf(ports);
          const cpu0 = cpuSnapshot(server!, workers);
          const sent = await drive(workers, row.pool, ports, sliceMs, 200);
          const cpu1 = cpuSnapshot(server!, workers);
          const m1 = await metricsOf(ports);
          notePeak(m1);
          const stored = storedCount(m1) - storedCount(m0);
          if (stored !== sent.acked) {
            throw new Error(`${row.name}: ${sent.acked} reports acknowledged, ${stored} stored`);
          }
          const t = totals[i];
          t.acked += sent.acked;
          t.seconds += sent.seconds;
          for (const ms of sent.latencies) t.latencies.push(ms);
          t.rsaOps += m1.rsaPrivateOps - m0.rsaPrivateOps;
          t.exhausted = sent.exhausted;
          t.cpu.server += cpu1.server - cpu0.server;
          t.cpu.serverMain += cpu1.serverMain - cpu0.serverMain;
          t.cpu.load += cpu1.load - cpu0.load;
        }
      }
      const after = await metricsOf(ports);
      const acked = totals.reduce((sum, t) => sum + t.acked, 0);
      if (after.reportsStored - countBefore !== acked) {
        throw new Error(
          `${acked} reports acknowledged, ${after.reportsStored - countBefore} in the database`,
        );
      }
      const made = rows.map((row, i): Phase => {
        const t = totals[i];
        const { p50, p99 } = percentiles(t.latencies);
        return {
          name: backend ? `${backend}: ${row.name}` : row.name,
          reports: t.acked,
          seconds: t.seconds,
          perSecond: t.acked / t.seconds,
          p50,
          p99,
          rsaOps: t.rsaOps,
          cpu: {
            server: (t.cpu.server / t.acked) * 1e6,
            serverMain: (t.cpu.serverMain / t.acked) * 1e6,
            load: (t.cpu.load / t.acked) * 1e6,
          },
          rss: after.rssBytes,
          note: row.note + (t.exhausted ? "; all sealed reports sent" : ""),
        };
      });
      phases.push(...made);
      return made;
    };
    const dropAll = (pool: string) =>
      Promise.all(workers.map((worker) => worker.ask({ cmd: "drop", pool })));

    // Each client's first encrypted report carries a new content key: one RSA unwrap each.
    if ((await certificateKid(serverPort)) !== kid4096) {
      throw new Error("the server does not serve the 4096-bit key's certificate");
    }
    await seal("4096 first", "encrypt", 1);
    const [first4096] = await measure([
      { name: "4096: first report per client", pool: "4096 first", note: "a new content key each" },
    ], 600_000);
    await dropAll("4096 first");

    // Clear text and 4096-bit steady state, in turns of one second.
    await seal("clear", "clear", perClientFor(FIRST_RATE_GUESS));
    await seal("4096", "encrypt", perClientFor(FIRST_RATE_GUESS));
    const [clear, steady4096] = await measure(
      [
        { name: "clear text (signed)", pool: "clear", note: "in turns with the next row" },
        { name: "4096: steady state", pool: "4096", note: "content keys reused" },
      ],
      SECONDS * 1000,
      1000,
    );
    await Promise.all([dropAll("clear"), dropAll("4096")]);
    if (backend) return { clear, steady4096, servers: ports.length };
    const rateGuess = Math.max(clear.perSecond, steady4096.perSecond, 500);

    // Restart on the same data dir: content keys must come back without RSA.
    await seal("4096 after restart", "encrypt", perClientFor(rateGuess, SECONDS / 2));
    notePeak(await metrics(serverPort));
    started = performance.now();
    await server.stop();
    server = startServer(serverDir, serverPort);
    await server.waitFor("listening on");
    const restartSeconds = (performance.now() - started) / 1000;
    say(`server restarted in ${restartSeconds.toFixed(1)} s`);
    const [afterRestart] = await measure([{
      name: "4096: after server restart",
      pool: "4096 after restart",
      note: `restart took ${restartSeconds.toFixed(1)} s; includes every client's first report`,
    }], (SECONDS / 2) * 1000);
    await dropAll("4096 after restart");
    if (afterRestart.reports < CLIENTS) {
      say("warning: fewer reports after the restart than clients");
    }

    // Forged messages: a fresh wrapped key each, a signature that does not verify.
    const forgedCount = Math.min(200, CLIENTS);
    await Promise.all(workers.map((worker, i) =>
      worker.ask({
        cmd: "forge",
        pool: "forged",
        count: Math.floor(forgedCount / WORKERS) + (i < forgedCount % WORKERS ? 1 : 0),
        port: serverPort,
        masthead,
      })
    ));
    before = await metrics(serverPort);
    const forged = await drive(workers, "forged", serverPort, 60_000, 403);
    let after = await metrics(serverPort);
    const forgedRsa = after.rsaPrivateOps - before.rsaPrivateOps;
    phases.push({
      name: "forged signatures",
      reports: forged.acked,
      seconds: forged.seconds,
      perSecond: forged.acked / forged.seconds,
      ...percentiles(forged.latencies),
      rsaOps: forgedRsa,
      note: "refused 403 (a new wrapped key each): must cost no RSA",
    });
    await dropAll("forged");

    // 2048-bit: deploy a new key; the server picks it up without a restart.
    say("deploying a 2048-bit key");
    const kid2048 = await generateKey(serverDir, siteKey, "min");
    await waitUntil("the server to serve the 2048-bit certificate", async () => {
      return (await certificateKid(serverPort)) === kid2048;
    }, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // the key ring's refresh
    await seal("2048 first", "encrypt", 1);
    const [first2048] = await measure([
      { name: "2048: first report per client", pool: "2048 first", note: "a new content key each" },
    ], 600_000);
    await dropAll("2048 first");
    await seal("2048", "encrypt", perClientFor(rateGuess));
    const [steady2048] = await measure([
      { name: "2048: steady state", pool: "2048", note: "content keys reused" },
    ], SECONDS * 1000);
    await dropAll("2048");

    // A hostile registered client: 1,000 reports, each under a content key wrapped afresh, sent
    // while the other clients report as usual. Its budget of new keys (the server's default,
    // 10 an hour) bounds the RSA work it causes; past it the answer is 429.
    say("a hostile client sends 1000 reports with fresh wrapped keys beside the others");
    // Its own load generator: the others' workers keep playing the well-behaved clients.
    const hostileWorker = new LoadWorker();
    extraWorkers.push(hostileWorker);
    const hostileRegistered = await hostileWorker.ask({
      cmd: "register",
      port: serverPort,
      count: 1,
      concurrency: 1,
      tag: "hostile",
    });
    if (hostileRegistered.failures > 0) throw new Error("the hostile client did not register");
    const others = workers;
    await hostileWorker.ask({
      cmd: "prepare",
      pool: "hostile",
      mode: "fresh-keys",
      perClient: 1000,
      port: serverPort,
      masthead,
    });
    await prepareAll(others, {
      cmd: "prepare",
      pool: "beside hostile",
      mode: "encrypt",
      perClient: perClientFor(rateGuess),
      port: serverPort,
      masthead,
    });
    before = await metrics(serverPort);
    const [hostileSent, besideSent] = await Promise.all([
      drive([hostileWorker], "hostile", serverPort, SECONDS * 1000, 200, [429, 503], 2),
      drive(others, "beside hostile", serverPort, SECONDS * 1000, 200),
    ]);
    after = await metrics(serverPort);
    const hostileRsa = after.rsaPrivateOps - before.rsaPrivateOps;
    if (storedCount(after) - storedCount(before) !== besideSent.acked + hostileSent.acked) {
      throw new Error("beside the hostile client: acknowledged and stored counts differ");
    }
    phases.push({
      name: "hostile: fresh key per report",
      reports: hostileSent.acked,
      seconds: hostileSent.seconds,
      perSecond: hostileSent.acked / hostileSent.seconds,
      ...percentiles(hostileSent.latencies),
      rsaOps: hostileRsa,
      note: `answers ${JSON.stringify(hostileSent.statuses)}; RSA bounded by its budget`,
    });
    const beside = {
      name: "2048: others beside hostile",
      reports: besideSent.acked,
      seconds: besideSent.seconds,
      perSecond: besideSent.acked / besideSent.seconds,
      ...percentiles(besideSent.latencies),
      rsaOps: null,
      rss: after.rssBytes,
      note: "content keys reused; compare with 2048: steady state",
    };
    phases.push(beside);
    await dropAll("beside hostile");
    await hostileWorker.close();

    // Through a relay: accepted (spooled durably) by the relay, then forwarded.
    relay = new RoleProcess("relay", [
      "run",
      "--data-dir",
      `${root}/relay`,
      "--listen",
      `127.0.0.1:${relayPort}`,
      "--parent",
      `http://127.0.0.1:${serverPort}`,
      ...(RELAY_CONCURRENCY === undefined ? [] : ["--concurrency", String(RELAY_CONCURRENCY)]),
    ]);
    await relay.waitFor("listening on");
    // Half a phase, the drain timed too: the relay group-commits what it accepts (one fsync for
    // the reports that arrive together) and forwards them in batches while it accepts more.
    const relaySeconds = Math.max(1, SECONDS / 2);
    await seal("via relay", "encrypt", perClientFor(rateGuess, relaySeconds));
    before = await metrics(serverPort);
    const cpu0 = cpuSnapshot(server, workers);
    started = performance.now();
    const viaRelay = await drive(workers, "via relay", relayPort, relaySeconds * 1000, 202);
    // Polls the server's in-memory counter: a count(*) of the table every 100 ms would load it.
    await waitUntil("the relay to deliver every accepted report", async () => {
      const m = await metrics(serverPort);
      return storedCount(m) - storedCount(before) >= viaRelay.acked;
    }, 120_000);
    const drainedSeconds = (performance.now() - started) / 1000;
    const cpu1 = cpuSnapshot(server, workers);
    after = await metrics(serverPort);
    notePeak(after);
    const delivered = after.reportsStored - before.reportsStored;
    phases.push({
      name: "via relay: accepted by relay",
      reports: viaRelay.acked,
      seconds: viaRelay.seconds,
      perSecond: viaRelay.acked / viaRelay.seconds,
      ...percentiles(viaRelay.latencies),
      rsaOps: null,
      note: "2048-bit; spooled durably, then 202",
    });
    phases.push({
      name: "via relay: stored by server",
      reports: delivered,
      seconds: drainedSeconds,
      perSecond: delivered / drainedSeconds,
      p50: null,
      p99: null,
      rsaOps: after.rsaPrivateOps - before.rsaPrivateOps,
      cpu: cpuPerReport(cpu0, cpu1, delivered),
      rss: after.rssBytes,
      note: `forwarder concurrency ${
        RELAY_CONCURRENCY ?? "default (4)"
      }, batches; first send to last stored`,
    });
    await dropAll("via relay");

    // Summary.
    const steadyReports = steady4096.reports + steady2048.reports;
    const steadyRsa = (steady4096.rsaOps ?? 0) + (steady2048.rsaOps ?? 0);
    const totalReports = phases
      .filter((p) =>
        !p.name.startsWith("register") && !p.name.startsWith("forged") &&
        p.name !== "via relay: accepted by relay"
      )
      .reduce((sum, p) => sum + p.reports, 0);
    const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
    const summary = {
      plaintext_reports_per_s: round(clear.perSecond),
      encrypted_reports_per_s: round(steady4096.perSecond),
      encrypted_2048_reports_per_s: round(steady2048.perSecond),
      ratio: round(steady4096.perSecond / clear.perSecond, 3),
      rsa_private_ops_per_1000_reports: round((steadyRsa / steadyReports) * 1000, 2),
      p50_ms: round(steady4096.p50!, 2),
      p99_ms: round(steady4096.p99!, 2),
      server_peak_rss_mb: round(peakRss / 1024 / 1024),
      relay_reports_per_s: round(phases.at(-2)!.perSecond),
      relay_delivered_reports_per_s: round(phases.at(-1)!.perSecond),
      // The targets: accepted ≥ 0.8 and delivered ≥ 0.7 of the direct 2048-bit rate.
      relay_accepted_ratio_to_direct_2048: round(
        phases.at(-2)!.perSecond / steady2048.perSecond,
        3,
      ),
      relay_delivered_ratio_to_direct_2048: round(
        phases.at(-1)!.perSecond / steady2048.perSecond,
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
      rsa_private_ops_for_forged_signatures: forgedRsa,
      rsa_private_ops_for_hostile_client: hostileRsa,
      hostile_client_reports_refused_429: hostileSent.statuses["429"] ?? 0,
      encrypted_2048_reports_per_s_beside_hostile: round(beside.perSecond),
      server_cpu_us_per_report_plaintext: round(clear.cpu?.server ?? NaN, 0),
      server_cpu_us_per_report_encrypted: round(steady4096.cpu?.server ?? NaN, 0),
      server_event_loop_us_per_report_plaintext: round(clear.cpu?.serverMain ?? NaN, 0),
      server_event_loop_us_per_report_encrypted: round(steady4096.cpu?.serverMain ?? NaN, 0),
      server_heap_total_mb_seen: round(peakHeap / 1024 / 1024),
      clients: CLIENTS,
      reports: totalReports,
      connections: CONNECTIONS,
      load_workers: WORKERS,
      seconds_per_phase: SECONDS,
      total_seconds: round((performance.now() - began) / 1000),
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
    };
    printTable();
    console.log(JSON.stringify(summary));
    return 0;
  } finally {
    await relay?.stop();
    await server?.stop();
    await secondServer?.stop();
    await database?.close();
    await Promise.all([...workers, ...extraWorkers].map((worker) => worker.close()));
    if (values.keep) say(`kept ${root}`);
    else await Deno.remove(root, { recursive: true });
  }
}

function printTable(): void {
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
    `\nmle ingest benchmark: ${CLIENTS} clients, ${CONNECTIONS} connections from ${WORKERS} ` +
      `load-generator processes, ${SECONDS} s per timed phase; Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} CPUs\n`,
  );
  console.log(line(header));
  for (const row of body) console.log(line(row));
  console.log(
    "\nCPU columns: per stored report, µs of CPU used by the whole server process, by its event-loop" +
      "\nthread alone, and by the load generators; RSS MB: the server's resident memory after the phase.\n",
  );
}

/** `--database postgres`: the ingest phases on SQLite, then on PostgreSQL, side by side. */
async function compareBackends(): Promise<number> {
  const round = (value: number) => Math.round(value * 10) / 10;
  const of = (run: IngestOnly) => ({
    plaintext_reports_per_s: round(run.clear.perSecond),
    encrypted_reports_per_s: round(run.steady4096.perSecond),
    p50_ms: round(run.steady4096.p50!),
    p99_ms: round(run.steady4096.p99!),
    servers: run.servers,
  });
  const sqlite = await main("sqlite") as IngestOnly;
  const postgres = await main("postgres") as IngestOnly;
  printTable();
  console.log(JSON.stringify({
    sqlite: of(sqlite),
    postgres: of(postgres),
    postgres_vs_sqlite_encrypted: Math.round(
      (postgres.steady4096.perSecond / sqlite.steady4096.perSecond) * 1000,
    ) / 1000,
    clients: CLIENTS,
    connections: CONNECTIONS,
    load_workers: WORKERS,
    seconds_per_phase: SECONDS,
    cpus: navigator.hardwareConcurrency,
  }));
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(values.database === "postgres" ? await compareBackends() : await main() as number);
  } catch (error) {
    console.error(`bench: error: ${(error as Error).stack ?? error}`);
    Deno.exit(1);
  }
}
