/**
 * The `Store` in PostgreSQL, for several servers sharing one database (and the admin tool on any
 * host that reaches it). Same tables and outcomes as SQLite (`store_conformance.ts` holds both
 * to them). A batch of reports is one transaction over the pool: one multi-row insert, whose
 * primary key (computer id, sequence) stores each report once even when two servers are sent
 * the same one at the same moment: the second insert waits for the first to commit, then does
 * nothing, and is told "duplicate".
 *
 * @module
 */

import type postgres from "postgres";
import { SqlStore } from "./_sql_store.ts";
import { postgresRunner, runSqlSteps, type SqlSteps } from "./_sql_runner.ts";
import {
  openPostgresPool,
  type PostgresLocation,
  type PostgresPool,
} from "./_postgres_database.ts";
import { toComputer, toReport } from "./_rows.ts";
import { searchTextFor } from "./report_search_text.ts";
import type {
  ComputerRecord,
  NewComputer,
  NewReport,
  NumberedDocumentName,
  ReportQuery,
  ReportRecord,
  Store,
  StoreChange,
  StoreOutcome,
} from "./store.ts";

type Sql = PostgresPool | postgres.TransactionSql;

/** SQLSTATEs after which a transaction is tried again: deadlock, serialization failure. */
const RETRIED = new Set(["40P01", "40001"]);

/**
 * A store in a PostgreSQL database.
 *
 * @example
 * ```ts ignore
 * import { PostgresStore } from "./postgres_store.ts";
 * const store = await PostgresStore.open({ url: "postgres://mle@db.example/mle" });
 * console.log(await store.countReports());
 * store.close();
 * ```
 */
export class PostgresStore extends SqlStore implements Store {
  readonly #sql: PostgresPool;

  private constructor(sql: PostgresPool) {
    super(postgresRunner(sql), { like: "ILIKE" });
    this.#sql = sql;
  }

  /**
   * Connects (a pool of up to `maxConnections`, default 8) and applies pending migrations.
   *
   * @throws {StoreSchemaError} When the database was migrated by a newer version.
   */
  static async open(
    location: PostgresLocation,
    options: { maxConnections?: number; applicationName?: string } = {},
  ): Promise<PostgresStore> {
    return new PostgresStore(
      await openPostgresPool(location, {
        max: options.maxConnections ?? 8,
        applicationName: options.applicationName ?? "mle",
      }),
    );
  }

  async registerComputer(computer: NewComputer): Promise<ComputerRecord> {
    const [row] = await this.#sql`
      INSERT INTO computers (public_key, host_identity, hostname, registered_at, claims_to_replace,
        claim_signed_by_old_key)
      VALUES (${computer.publicKey}, ${computer.hostIdentity}, ${computer.hostname},
        ${computer.registeredAt}, ${computer.claimsToReplace ?? null},
        ${computer.claimSignedByOldKey === true ? 1 : 0})
      RETURNING *`;
    return toComputer(row);
  }

  /**
   * One transaction: one insert of the batch's distinct reports (sorted, so two servers'
   * overlapping batches take their row locks in the same order and cannot deadlock), one read of
   * the digests of those that were there already, one update of the senders' last report.
   */
  async storeReports(reports: NewReport[]): Promise<StoreOutcome[]> {
    if (reports.length === 0) return [];
    const keyOf = (report: NewReport) => `${report.computerId}/${report.seq}`;
    const first = new Map<string, NewReport>();
    for (const report of reports) if (!first.has(keyOf(report))) first.set(keyOf(report), report);
    const offered = [...first.values()].sort((a, b) =>
      a.computerId - b.computerId || a.seq - b.seq
    );
    return await this.#retried(async (tx) => {
      const inserted = await tx.unsafe(
        `INSERT INTO reports (computer_id, seq, received_at, encrypted, kid, body, digest)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::smallint[],
           $5::text[], $6::text[], $7::text[])
         ON CONFLICT DO NOTHING RETURNING computer_id, seq`,
        [
          offered.map((r) => r.computerId),
          offered.map((r) => r.seq),
          offered.map((r) => r.receivedAt),
          offered.map((r) => r.encrypted ? 1 : 0),
          offered.map((r) => r.kid),
          offered.map((r) => r.body),
          offered.map((r) => r.digest),
        ] as never[],
      );
      const stored = new Set(inserted.map((row) => `${row.computer_id}/${row.seq}`));
      const present = offered.filter((r) => !stored.has(keyOf(r)));
      const digests = new Map<string, string>();
      if (present.length > 0) {
        const rows = await tx.unsafe(
          `SELECT r.computer_id, r.seq, r.digest FROM reports r
           JOIN unnest($1::bigint[], $2::bigint[]) AS k(computer_id, seq)
             ON r.computer_id = k.computer_id AND r.seq = k.seq`,
          [present.map((r) => r.computerId), present.map((r) => r.seq)] as never[],
        );
        for (const row of rows) digests.set(`${row.computer_id}/${row.seq}`, String(row.digest));
      }
      // The last stored report of each computer, in the batch's order, as SQLite leaves it.
      const latest = new Map<number, NewReport>();
      for (const report of reports) {
        if (stored.has(keyOf(report)) && first.get(keyOf(report)) === report) {
          latest.set(report.computerId, report);
        }
      }
      if (latest.size > 0) {
        const touched = [...latest.values()].sort((a, b) => a.computerId - b.computerId);
        await tx.unsafe(
          `UPDATE computers SET last_report_at = t.at, last_kid = t.kid, encryption_level = t.level,
           search_text = t.search_text
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
             AS t(id, at, kid, level, search_text)
           WHERE computers.id = t.id`,
          [
            touched.map((r) => r.computerId),
            touched.map((r) => r.receivedAt),
            touched.map((r) => r.kid),
            touched.map((r) => r.encryptionLevel),
            touched.map((r) => searchTextFor(r)),
          ] as never[],
        );
      }
      return reports.map((report): StoreOutcome => {
        const key = keyOf(report);
        const original = first.get(key)!;
        if (stored.has(key)) {
          if (original === report) return "stored";
          return original.digest === report.digest ? "duplicate" : "conflict";
        }
        return digests.get(key) === report.digest ? "duplicate" : "conflict";
      });
    });
  }

  async *iterateReports(query: ReportQuery): AsyncIterable<ReportRecord> {
    const conditions: string[] = [];
    const parameters: (string | number)[] = [];
    const next = (value: string | number) => {
      parameters.push(value);
      return `$${parameters.length}`;
    };
    if (query.computerId !== undefined) conditions.push(`computer_id = ${next(query.computerId)}`);
    if (query.since !== undefined) conditions.push(`received_at >= ${next(query.since)}`);
    for (const match of query.where ?? []) {
      if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(match.name)) {
        throw new RangeError(`Cannot match property "${match.name}": bad name`);
      }
      // The value as text, as SQLite's json_extract gives it: strings bare, others as written.
      const name = next(match.name);
      const value = next(match.value);
      conditions.push(
        `(body::jsonb -> 'properties' ->> ${name} = ${value} OR ` +
          `body::jsonb -> 'custom' ->> ${name} = ${value})`,
      );
    }
    const direction = query.order === "newest" ? "DESC" : "ASC";
    // No insertion order here as SQLite's rowid: newest by the time each was received.
    const order = query.computerId !== undefined
      ? `seq ${direction}`
      : `received_at ${direction}, computer_id ${direction}, seq ${direction}`;
    const text = "SELECT computer_id, seq, received_at, encrypted, kid, body FROM reports" +
      (conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "") + ` ORDER BY ${order}` +
      (query.limit !== undefined ? ` LIMIT ${next(query.limit)}` : "");
    // A cursor: rows arrive a block at a time, so memory stays constant however many match.
    for await (const rows of this.#sql.unsafe(text, parameters).cursor(256)) {
      for (const row of rows) yield toReport(row);
    }
  }

  protected inTransaction<T>(steps: () => SqlSteps<T>): Promise<T> {
    return this.#retried((tx) => runSqlSteps(postgresRunner(tx), steps()));
  }

  /** The row lock makes the check and the write one step against other sessions. */
  protected *takeSerialSteps(name: NumberedDocumentName, serial: number): SqlSteps<boolean> {
    yield {
      sql: "INSERT INTO document_serials (name, serial) VALUES (:name, 0) ON CONFLICT DO NOTHING",
      params: { name },
    };
    const [row] = yield {
      sql: "SELECT serial FROM document_serials WHERE name = :name FOR UPDATE",
      params: { name },
    };
    if (Number(row.serial) + 1 !== serial) return false;
    yield {
      sql: "UPDATE document_serials SET serial = :serial WHERE name = :name",
      params: { name, serial },
    };
    return true;
  }

  /**
   * Listens on the channel the schema's triggers notify (migration 3): one more connection,
   * which the client re-establishes after a loss; each (re)connection is reported as `resync`,
   * since notifications sent meanwhile are lost.
   */
  async watchChanges(listener: (change: StoreChange) => void): Promise<boolean> {
    await this.#sql.listen(
      CHANGES_CHANNEL,
      (payload) => {
        const change = parseChange(payload);
        if (change) listener(change);
      },
      () => listener({ kind: "resync" }),
    );
    return true;
  }

  close(): void {
    this.#sql.end({ timeout: 5 }).catch(() => {});
  }

  /** Runs `work` in a transaction, tried again (up to 3 times) after a deadlock. */
  async #retried<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#sql.begin((tx) => work(tx)) as T;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (attempt >= 3 || code === undefined || !RETRIED.has(code)) throw error;
      }
    }
  }
}

/** The channel of migration 3's triggers. */
const CHANGES_CHANNEL = "mle_changes";

/** A notification's payload as a change: `computer:ID` or `keys`; anything else is ignored. */
function parseChange(payload: string): StoreChange | null {
  if (payload === "keys") return { kind: "keys" };
  const computer = /^computer:(\d{1,15})$/.exec(payload);
  return computer ? { kind: "computer", computerId: Number(computer[1]) } : null;
}
