/**
 * What a server on a shared database does while it cannot reach it: like a relay, it writes the
 * reports of computers it already knows (their keys cached in `computer_directory.ts`) durably to
 * a local spool (`<data dir>/database-outage/`, one file per batch: temporary file, fsync, rename,
 * fsync folder) before it acknowledges them, and drains the spool into the database when it
 * returns. A report is stored once: the database's primary key (computer id, sequence) makes a
 * report drained twice (a crash between commit and removal) or also sent to another server a
 * duplicate, which is dropped.
 *
 * The spool holds verified, decrypted report bodies, as the database does: files of mode 0600 in
 * a folder of mode 0700, under the data dir, on the server's own disk. It is bounded
 * (`maxBytes`); past that the server refuses with 503 `ERR_DATABASE_UNAVAILABLE` like any request
 * that needs the database.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { ensurePrivateDir, joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import { isDatabaseUnavailable } from "../store/database_unavailable.ts";
import type { NewReport, Store } from "../store/store.ts";
import { IngestError } from "./ingest_error.ts";

/** The folder of the spool, inside the server data dir. */
export const OUTAGE_SPOOL_DIR = "database-outage";

/** The code of every refusal while the database is away. */
export const DATABASE_UNAVAILABLE_CODE = "ERR_DATABASE_UNAVAILABLE";

/** Seconds a sender is asked to wait before retrying what needs the database. */
export const DATABASE_RETRY_AFTER_SECONDS = 10;

/** Options of {@linkcode DatabaseOutageSpool.open}. */
export interface DatabaseOutageSpoolOptions {
  dataDir: string;
  store: Store;
  log: Logger;
  /** Most bytes spooled (default 1 GiB). */
  maxBytes?: number;
  /** First delay before probing the database again (default 500 ms); it doubles. */
  minRetryMs?: number;
  /** Longest delay between probes (default 5 s). */
  maxRetryMs?: number;
}

/** What the operations listener shows of the database. */
export interface DatabaseState {
  database: "available" | "unavailable";
  /** Since when it is unavailable (ISO time), or null. */
  unavailableSince: string | null;
  /** Reports acknowledged into the spool and not yet stored in the database. */
  spooledReports: number;
  /** Reports drained from the spool into the database since start (duplicates not counted). */
  drainedReports: number;
}

/** The 503 of a request that needs the database while it is away. */
export function databaseUnavailableError(): IngestError {
  return new IngestError(
    503,
    DATABASE_UNAVAILABLE_CODE,
    "Cannot do this now: the server cannot reach its database; retry later (reports of " +
      "registered computers are still accepted)",
    DATABASE_RETRY_AFTER_SECONDS,
  );
}

interface SpooledFile {
  name: string;
  reports: number;
  bytes: number;
}

/** The spool of one server and its drainer. */
export class DatabaseOutageSpool {
  readonly #dir: string;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #maxBytes: number;
  readonly #minRetryMs: number;
  readonly #maxRetryMs: number;
  readonly #files = new Map<string, SpooledFile>();
  #bytes = 0;
  #unavailableSince: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryMs: number;
  #draining: Promise<void> | null = null;
  #nextName = 0;
  #writing = 0;
  #drained = 0;
  #closed = false;

  private constructor(options: DatabaseOutageSpoolOptions) {
    this.#dir = joinPath(options.dataDir, OUTAGE_SPOOL_DIR);
    this.#store = options.store;
    this.#log = options.log;
    this.#maxBytes = options.maxBytes ?? 1024 ** 3;
    this.#minRetryMs = options.minRetryMs ?? 500;
    this.#maxRetryMs = options.maxRetryMs ?? 5_000;
    this.#retryMs = this.#minRetryMs;
  }

  /** Opens the spool; what an earlier run left in it is drained at once. */
  static async open(options: DatabaseOutageSpoolOptions): Promise<DatabaseOutageSpool> {
    const spool = new DatabaseOutageSpool(options);
    await ensurePrivateDir(spool.#dir);
    for await (const entry of Deno.readDir(spool.#dir)) {
      if (!entry.isFile) continue;
      if (entry.name.includes(".tmp-")) {
        // A write cut by a crash was never acknowledged.
        await Deno.remove(joinPath(spool.#dir, entry.name)).catch(() => {});
        continue;
      }
      const bytes = (await Deno.stat(joinPath(spool.#dir, entry.name))).size;
      spool.#files.set(entry.name, { name: entry.name, reports: 0, bytes });
      spool.#bytes += bytes;
    }
    if (spool.#files.size > 0) {
      options.log.info("reports spooled during a database outage wait; draining them", {
        files: spool.#files.size,
      });
      spool.#schedule(0);
    }
    return spool;
  }

  /** Whether the database is known to be away: batches go straight to the spool. */
  get unavailable(): boolean {
    return this.#unavailableSince !== null;
  }

  /** The state for the operations listener. */
  get state(): DatabaseState {
    return {
      database: this.unavailable ? "unavailable" : "available",
      unavailableSince: this.#unavailableSince === null
        ? null
        : new Date(this.#unavailableSince).toISOString(),
      spooledReports: [...this.#files.values()].reduce((sum, file) => sum + file.reports, 0),
      drainedReports: this.#drained,
    };
  }

  /** Notes that the database failed (logged once per outage) and starts probing it. */
  markUnavailable(cause: unknown): void {
    if (this.#closed || this.#unavailableSince !== null) return;
    this.#unavailableSince = Date.now();
    this.#retryMs = this.#minRetryMs;
    this.#log.warn(
      "database unavailable: acknowledging registered computers' reports into the local " +
        "spool; registration and administration answer 503 until it returns",
      { cause: cause instanceof Error ? cause.message : String(cause) },
    );
    this.#schedule(this.#retryMs);
  }

  /**
   * Writes a batch durably; resolves once it is on disk (fsync'd), when it may be acknowledged.
   *
   * @throws {IngestError} 503 `ERR_DATABASE_UNAVAILABLE` when the spool is full.
   */
  async put(reports: NewReport[]): Promise<void> {
    const text = JSON.stringify(reports);
    const bytes = new TextEncoder().encode(text);
    if (this.#bytes + bytes.length > this.#maxBytes) {
      this.#log.warn("database outage spool full: refusing reports with 503", {
        bytes: this.#bytes,
      });
      throw databaseUnavailableError();
    }
    const name = `${String(Date.now()).padStart(15, "0")}-${
      String(this.#nextName++).padStart(9, "0")
    }.json`;
    this.#bytes += bytes.length;
    this.#writing++;
    try {
      await replaceFileAtomically(joinPath(this.#dir, name), bytes, 0o600);
    } catch (error) {
      this.#bytes -= bytes.length;
      throw error;
    } finally {
      this.#writing--;
    }
    this.#files.set(name, { name, reports: reports.length, bytes: bytes.length });
    if (!this.unavailable) this.#schedule(0);
  }

  /** Stops probing (the spool stays on disk for the next start). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#draining?.catch(() => {});
  }

  #schedule(delayMs: number): void {
    if (this.#closed || this.#timer !== undefined || this.#draining !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#draining = this.#drain().finally(() => this.#draining = null);
    }, delayMs);
  }

  #forget(name: string): void {
    const file = this.#files.get(name);
    if (file === undefined) return;
    this.#files.delete(name);
    this.#bytes -= file.bytes;
  }

  /** One pass: probe the database, then store the spooled batches oldest first. */
  async #drain(): Promise<void> {
    try {
      if (this.#files.size === 0) {
        await this.#store.getDocument("masthead"); // a probe: any answer means it is back
      }
      for (const name of [...this.#files.keys()].sort()) {
        const path = joinPath(this.#dir, name);
        let text: string;
        try {
          text = await Deno.readTextFile(path);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
          this.#forget(name); // drained by another server sharing this data dir
          continue;
        }
        const reports = JSON.parse(text) as NewReport[];
        const outcomes = await this.#store.storeReports(reports);
        // Stored: now the file may go. A crash before this line drains it again: duplicates.
        await Deno.remove(path).catch((error) => {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        });
        this.#forget(name);
        const stored = outcomes.filter((outcome) => outcome === "stored").length;
        this.#drained += stored;
        this.#log.info("drained spooled reports into the database", {
          stored,
          duplicates: outcomes.filter((outcome) => outcome === "duplicate").length,
          conflicts: outcomes.filter((outcome) => outcome === "conflict").length,
        });
      }
    } catch (error) {
      if (!isDatabaseUnavailable(error)) {
        this.#log.error("cannot drain the database outage spool; will retry", {
          cause: (error as Error).message,
        });
      }
      this.#retryMs = Math.min(this.#maxRetryMs, this.#retryMs * 2);
      this.#draining = null;
      this.#schedule(Math.round(this.#retryMs * (0.5 + Math.random() / 2)));
      return;
    }
    if (this.#unavailableSince !== null) {
      this.#log.info("database available again: the outage spool is drained", {
        unavailableForMs: Date.now() - this.#unavailableSince,
        drained: this.#drained,
      });
      this.#unavailableSince = null;
    }
    this.#retryMs = this.#minRetryMs;
    // Batches spooled while this pass ran: another pass.
    if (this.#files.size > 0 || this.#writing > 0) {
      this.#draining = null;
      this.#schedule(this.#minRetryMs);
    }
  }
}
