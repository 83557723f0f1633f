/**
 * Group commit: reports that arrive together are stored in one transaction (one fsync), and each
 * request is answered only after its report is committed.
 *
 * With `dataDir`, the transactions run in a worker thread on its own connection to the data dir's
 * store (`_report_writer_worker.ts`). SQLite's calls are synchronous, and with `synchronous=FULL`
 * each commit waits for an fsync: on the event loop that wait stopped every other request, and
 * it was the largest single cost of ingest. In the worker the event loop goes on verifying and
 * decrypting the next reports while a batch is committed, and while one batch is being committed
 * the next one gathers, so batches grow with the load. One batch is in flight at a time.
 * Durability is unchanged: a report is acknowledged only after its batch committed.
 *
 * Without `dataDir` (tests, in-memory stores), batches are committed on the event loop through the
 * given store, as before.
 *
 * With an `outageSpool` (servers on a shared PostgreSQL database), a batch the database cannot take
 * because it is out of reach is written to that local spool instead, and acknowledged once there
 * ("spooled"); while the database is away, batches go to the spool directly.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { isDatabaseUnavailable } from "../store/database_unavailable.ts";
import type { NewReport, Store, StoreOutcome } from "../store/store.ts";
import type { DatabaseOutageSpool } from "./database_outage_spool.ts";
import {
  REPORT_WRITER_WORKER_NAME,
  type WriterAnswer,
  type WriterRequest,
} from "./_report_writer_worker.ts";

/** What became of a report: stored (or not) in the store, or kept in the outage spool. */
export type WriteOutcome = StoreOutcome | "spooled";

interface Pending {
  report: NewReport;
  resolve: (outcome: WriteOutcome) => void;
  reject: (error: unknown) => void;
}

/** Options of a {@linkcode BatchWriter}. */
export interface BatchWriterOptions {
  /** Most reports in one transaction (default 512). */
  maxBatch?: number;
  /** Commit in a worker thread, on its own connection to the store of this server data dir. */
  dataDir?: string;
  /** Where batches go while the database cannot be reached (`database_outage_spool.ts`). */
  outageSpool?: DatabaseOutageSpool;
}

/** Batches `storeReports` calls. */
export class BatchWriter {
  readonly #store: Store;
  readonly #maxBatch: number;
  readonly #outageSpool: DatabaseOutageSpool | undefined;
  #pending: Pending[] = [];
  #scheduled = false;
  #inFlight = false;
  #worker: Worker | null = null;
  #ready: Promise<void> | null = null;
  #nextId = 1;
  readonly #waiting = new Map<
    number,
    { resolve: (outcomes: StoreOutcome[]) => void; reject: (error: unknown) => void }
  >();
  #closed: (() => void) | null = null;
  #stored = 0;
  #storedEncrypted = 0;
  /** Told the duration of each commit, in seconds (the metrics' commit latency). */
  onCommit: ((seconds: number) => void) | null = null;

  /**
   * @example
   * ```ts ignore
   * const writer = new BatchWriter(store, { dataDir: "/var/opt/mle-server" });
   * const outcome = await writer.write(report); // "stored", "duplicate" or "conflict"
   * await writer.close();
   * ```
   */
  constructor(store: Store, options: BatchWriterOptions | number = {}) {
    const { maxBatch = 512, dataDir, outageSpool } = typeof options === "number"
      ? { maxBatch: options } as BatchWriterOptions
      : options;
    this.#store = store;
    this.#outageSpool = outageSpool;
    this.#maxBatch = maxBatch;
    if (dataDir !== undefined) this.#startWorker(dataDir);
  }

  /** Reports stored (committed, not duplicates) since start: a counter the metrics read cheaply. */
  get stored(): number {
    return this.#stored;
  }

  /** Of {@linkcode stored}, the reports that arrived encrypted (the rest came in clear text). */
  get storedEncrypted(): number {
    return this.#storedEncrypted;
  }

  /** Stores one report with the next batch; resolves once it is committed (or spooled). */
  write(report: NewReport): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ report, resolve, reject });
      this.#schedule();
    });
  }

  /** Waits for the batches in flight, then closes the worker's connection. */
  async close(): Promise<void> {
    while (this.#pending.length > 0 || this.#inFlight) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = null;
    const closed = new Promise<void>((resolve) => this.#closed = resolve);
    worker.postMessage({ type: "close" } satisfies WriterRequest);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    worker.terminate();
  }

  #schedule(): void {
    if (this.#inFlight || this.#scheduled) return;
    if (this.#pending.length >= this.#maxBatch) {
      this.#flush();
      return;
    }
    this.#scheduled = true;
    // After the I/O callbacks of this turn of the event loop, so that the reports which arrived
    // together share the commit. Not `setTimeout(…, 0)`: Deno fires a timer 1 to 2 ms later at the
    // soonest, and each commit waited that long before it began.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#inFlight || this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, this.#maxBatch);
    this.#inFlight = true;
    const started = performance.now();
    this.#commitOrSpool(batch).then(
      (outcomes) => {
        this.onCommit?.((performance.now() - started) / 1000);
        outcomes.forEach((outcome, index) => {
          if (outcome !== "stored") return;
          this.#stored++;
          if (batch[index].report.encrypted) this.#storedEncrypted++;
        });
        batch.forEach((p, i) => p.resolve(outcomes[i]));
      },
      (error) => batch.forEach((p) => p.reject(error)),
    ).finally(() => {
      this.#inFlight = false;
      if (this.#pending.length > 0) this.#schedule();
    });
  }

  /** Commits the batch, or, with an outage spool, keeps it there while the database is away. */
  async #commitOrSpool(batch: Pending[]): Promise<WriteOutcome[]> {
    const spool = this.#outageSpool;
    if (spool === undefined) return await this.#commit(batch);
    if (!spool.unavailable) {
      try {
        return await this.#commit(batch);
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
        spool.markUnavailable(error);
      }
    }
    await spool.put(batch.map((p) => p.report));
    return batch.map(() => "spooled");
  }

  async #commit(batch: Pending[]): Promise<StoreOutcome[]> {
    const reports = batch.map((p) => p.report);
    if (this.#worker && this.#ready) {
      try {
        await this.#ready;
      } catch {
        // The worker could not open the store: commit on the event loop instead.
      }
    }
    const worker = this.#worker;
    if (!worker) return await this.#store.storeReports(reports);
    const id = this.#nextId++;
    return await new Promise<StoreOutcome[]>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ type: "store", id, reports } satisfies WriterRequest);
    });
  }

  #startWorker(dataDir: string): void {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./_report_writer_worker.ts", import.meta.url), {
        type: "module",
        name: REPORT_WRITER_WORKER_NAME,
      });
    } catch {
      return; // no workers here: commit on the event loop
    }
    this.#worker = worker;
    let opened: () => void;
    let failedToOpen: (error: Error) => void;
    this.#ready = new Promise<void>((resolve, reject) => {
      opened = resolve;
      failedToOpen = reject;
    });
    this.#ready.catch(() => {});
    worker.onmessage = (event: MessageEvent<WriterAnswer>) => {
      const answer = event.data;
      switch (answer.type) {
        case "opened":
          opened();
          return;
        case "closed":
          this.#closed?.();
          return;
        case "stored":
        case "failed": {
          if (answer.id === null) {
            // Opening failed: fall back to the event loop's connection.
            this.#worker = null;
            worker.terminate();
            failedToOpen(new Error(answer.type === "failed" ? answer.message : "worker failed"));
            return;
          }
          const waiting = this.#waiting.get(answer.id);
          this.#waiting.delete(answer.id);
          if (answer.type === "stored") waiting?.resolve(answer.outcomes);
          else waiting?.reject(new Error(`Cannot store reports: ${answer.message}`));
          return;
        }
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#worker = null;
      failedToOpen(new Error(event.message));
      for (const waiting of this.#waiting.values()) {
        waiting.reject(
          new Error(`Cannot store reports: the writer thread failed: ${event.message}`),
        );
      }
      this.#waiting.clear();
    };
    worker.postMessage({ type: "open", dataDir } satisfies WriterRequest);
  }
}
