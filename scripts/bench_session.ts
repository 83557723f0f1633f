/**
 * One run of `npm run bench`: the site, the server (or, on PostgreSQL, two servers sharing the
 * database), the load generators and the registered clients, set up in a temporary folder; and
 * the steps every timed phase uses: seal a pool of reports ({@linkcode BenchSession.seal}), send
 * pools in turns and check that every acknowledged report was stored
 * ({@linkcode BenchSession.measure}), drop a pool. The phases themselves are in
 * `bench_phases.ts` and `bench_hostile_phases.ts`.
 *
 * @module
 */

import { admin } from "../tests/deployment.ts";
import { freePort, type RoleProcess } from "../tests/run_role.ts";
import { cpuSnapshot } from "./bench_cpu.ts";
import { drive, LoadWorker, prepareAll } from "./bench_load_worker.ts";
import type { BenchOptions } from "./bench_options.ts";
import { type BenchDatabase, openBenchDatabase } from "./bench_postgres.ts";
import {
  generateKey,
  type Metrics,
  metrics,
  metricsOf,
  type ServerProcess,
  startServer,
  storedCount,
} from "./bench_server.ts";
import { percentiles, type Phase } from "./bench_table.ts";

/** The database a run stores in: the full run uses SQLite. */
export type BenchBackend = "sqlite" | "postgres";

/** One row `measure` makes: its name, the pool it sends, the note of the table. */
export interface MeasuredRow {
  name: string;
  pool: string;
  note: string;
}

/** Prints a progress line to stderr. */
export function say(line: string): void {
  console.error(`bench: ${line}`);
}

/** The processes and folders of one benchmark run, and the rows it measured so far. */
export class BenchSession {
  readonly options: BenchOptions;
  /** Set for an ingest-only run (`--database postgres`): row names start with it. */
  readonly backend: BenchBackend | undefined;
  readonly root: string;
  readonly serverDir: string;
  readonly siteKey: string;
  readonly masthead: string;
  readonly serverPort = freePort();
  readonly relayPort = freePort();
  /** The public ports of the servers the load is split between. */
  readonly ports: number[] = [];
  /** The rows measured so far, in order. */
  readonly phases: Phase[] = [];
  /** The well-behaved clients' load generators. */
  readonly workers: LoadWorker[] = [];
  /** Load generators outside the well-behaved clients' (the hostile client's). */
  readonly extraWorkers: LoadWorker[] = [];
  server: ServerProcess | null = null;
  relay: RoleProcess | null = null;
  #secondServer: ServerProcess | null = null;
  #database: BenchDatabase | null = null;
  peakRss = 0;
  peakHeap = 0;

  private constructor(options: BenchOptions, root: string, backend?: BenchBackend) {
    this.options = options;
    this.backend = backend;
    this.root = root;
    this.serverDir = `${root}/server`;
    this.siteKey = `${root}/site/license.pvk`;
    this.masthead = `${root}/site/masthead.json`;
  }

  /** A session in a new temporary folder; nothing runs until {@linkcode BenchSession.setUp}. */
  static async create(options: BenchOptions, backend?: BenchBackend): Promise<BenchSession> {
    const root = await Deno.makeTempDir({ prefix: "mle-bench-" });
    return new BenchSession(options, root, backend);
  }

  /** A row's name in this run: prefixed with the backend in an ingest-only run. */
  rowName(name: string): string {
    return this.backend ? `${this.backend}: ${name}` : name;
  }

  /** Remembers the server's peak memory seen in `m`. */
  notePeak(m: Metrics): void {
    this.peakRss = Math.max(this.peakRss, m.peakRssBytes ?? 0, m.rssBytes ?? 0);
    this.peakHeap = Math.max(this.peakHeap, (m.heapTotalBytes as number | undefined) ?? 0);
  }

  /** Starts (or restarts) the first server on its port and waits until it listens. */
  async startFirstServer(extra: string[] = []): Promise<void> {
    this.server = startServer(this.serverDir, this.serverPort, extra, this.options.profile);
    await this.server.waitFor("listening on");
  }

  /**
   * Makes the site with the real admin tool, deploys a 4096-bit key, starts the server(s) and
   * the load generators; gives the key's id.
   */
  async setUp(): Promise<string> {
    const { root, serverDir, siteKey, masthead, serverPort } = this;
    say(`site, 4096-bit key and server in ${root}`);
    await Deno.mkdir(`${root}/site`, { mode: 0o700 });
    if (this.backend === "postgres") this.#database = await openBenchDatabase(root);
    const database = this.#database;
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
    await this.startFirstServer([...serverArgs, "--server-name", "a"]);
    this.ports.push(serverPort);
    if (database) {
      // The second server: its own data dir holding the same private key, the same database.
      const secondPort = freePort();
      await database.copyKeys(serverDir, `${root}/server-b`);
      this.#secondServer = startServer(`${root}/server-b`, secondPort, [
        ...serverArgs,
        "--server-name",
        "b",
      ], this.options.profile);
      await this.#secondServer.waitFor("listening on");
      this.ports.push(secondPort);
    }
    for (let i = 0; i < this.options.workers; i++) this.workers.push(new LoadWorker());
    return kid4096;
  }

  /** Registers the simulated clients, shared among the workers, and makes their row. */
  async register(): Promise<void> {
    const { clients, workers: workerCount } = this.options;
    say(`registering ${clients} clients`);
    const before = await metrics(this.serverPort);
    const started = performance.now();
    const registered = await Promise.all(this.workers.map((worker, i) =>
      worker.ask({
        cmd: "register",
        port: this.serverPort,
        count: Math.floor(clients / workerCount) + (i < clients % workerCount ? 1 : 0),
        concurrency: 8,
        tag: `w${i}`,
      })
    ));
    const registrationSeconds = (performance.now() - started) / 1000;
    const failures = registered.reduce((sum, r) => sum + r.failures, 0);
    if (failures > 0) throw new Error(`registration failed: ${registered[0].firstFailure}`);
    const registeredMetrics = await metrics(this.serverPort);
    this.notePeak(registeredMetrics);
    this.phases.push({
      name: this.rowName("register clients"),
      reports: clients,
      seconds: registrationSeconds,
      perSecond: clients / registrationSeconds,
      p50: null,
      p99: null,
      rsaOps: registeredMetrics.rsaPrivateOps - before.rsaPrivateOps,
      rss: registeredMetrics.rssBytes,
      note: "Ed25519 key pair each; registrations/s",
    });
  }

  /** Reports each client needs for a timed phase at `rate` reports/s (with a margin). */
  perClientFor(rate: number, seconds = this.options.seconds): number {
    return Math.max(1, Math.ceil((rate * 1.3 * seconds) / this.options.clients));
  }

  /** Seals reports into a pool of every worker. */
  async seal(
    pool: string,
    mode: "clear" | "encrypt" | "fresh-keys",
    perClient: number,
    workers: LoadWorker[] = this.workers,
  ): Promise<void> {
    const sealed = await prepareAll(workers, {
      cmd: "prepare",
      pool,
      mode,
      perClient,
      port: this.serverPort,
      masthead: this.masthead,
    });
    say(
      `${pool}: sealed ${sealed.prepared} reports (${sealed.meanRequestBytes} bytes per HTTP ` +
        `request, ${sealed.newContentKeys} new content keys) in ${(sealed.ms / 1000).toFixed(1)} s`,
    );
  }

  /** Drops a pool from every worker. */
  async dropAll(pool: string): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.ask({ cmd: "drop", pool })));
  }

  /**
   * Sends pools to the server in turns of `sliceMs` until each had `totalMs` (or ran out), and
   * makes one row per pool. Taking turns gives every pool the same share of whatever else the
   * machine is doing meanwhile, so their rates can be compared. Every acknowledged report must be
   * stored: the server's count of stored reports must grow by exactly as many.
   */
  async measure(rows: MeasuredRow[], totalMs: number, sliceMs = totalMs): Promise<Phase[]> {
    const { ports, workers } = this;
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
        const cpu0 = cpuSnapshot(this.server!, workers);
        const sent = await drive(
          workers,
          row.pool,
          ports,
          sliceMs,
          200,
          [],
          this.options.connections,
        );
        const cpu1 = cpuSnapshot(this.server!, workers);
        const m1 = await metricsOf(ports);
        this.notePeak(m1);
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
        name: this.rowName(row.name),
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
    this.phases.push(...made);
    return made;
  }

  /** Stops every process, closes the database, and removes the folder unless `--keep`. */
  async close(): Promise<void> {
    await this.relay?.stop();
    await this.server?.stop();
    await this.#secondServer?.stop();
    await this.#database?.close();
    await Promise.all([...this.workers, ...this.extraWorkers].map((worker) => worker.close()));
    if (this.options.keep) say(`kept ${this.root}`);
    else await Deno.remove(this.root, { recursive: true });
  }
}
