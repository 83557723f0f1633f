/**
 * The embedded default store: SQLite through `node:sqlite`, in WAL mode so that the admin tool can
 * write while the server runs, with `synchronous=FULL` so that an acknowledged report survives a
 * power cut. Reports are written in batches, one transaction (one fsync) per batch.
 *
 * @module
 */

import { SqliteDatabase } from "./_sqlite_database.ts";
import { SqlStore } from "./_sql_store.ts";
import { runSqliteSteps, sqliteRunner, type SqlSteps } from "./_sql_runner.ts";
import { searchTextFor } from "./report_search_text.ts";
import { type Row, toComputer, toReport } from "./_rows.ts";
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

/**
 * Opens (and creates if needed) a SQLite store at `path`.
 *
 * @example
 * ```ts
 * import { SqliteStore } from "./sqlite_store.ts";
 * const store = new SqliteStore(":memory:");
 * console.log(await store.countReports()); // 0
 * store.close();
 * ```
 */
export class SqliteStore extends SqlStore implements Store {
  readonly #db: SqliteDatabase;

  /**
   * @throws {StoreSchemaError} When the file was migrated by a newer version of this software.
   */
  constructor(path: string) {
    const db = new SqliteDatabase(path);
    super(sqliteRunner(db), { like: "LIKE" });
    this.#db = db;
  }

  registerComputer(computer: NewComputer): Promise<ComputerRecord> {
    const insert = this.#db.prepare(
      `INSERT INTO computers (public_key, host_identity, hostname, registered_at, claims_to_replace,
         claim_signed_by_old_key) VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
    );
    // In an explicit transaction: alone, an INSERT … RETURNING commits when its statement is
    // reset, after the row was read, and a failed commit there (a full disk) went unnoticed: the
    // id was handed out, never stored, and handed out again.
    const row = this.#db.transaction(() =>
      insert.get(
        computer.publicKey,
        computer.hostIdentity,
        computer.hostname,
        computer.registeredAt,
        computer.claimsToReplace ?? null,
        computer.claimSignedByOldKey === true ? 1 : 0,
      )
    );
    return Promise.resolve(toComputer(row as Row));
  }

  storeReports(reports: NewReport[]): Promise<StoreOutcome[]> {
    const insert = this.#db.prepare(
      `INSERT INTO reports (computer_id, seq, received_at, encrypted, kid, body, digest)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const existing = this.#db.prepare(
      "SELECT digest FROM reports WHERE computer_id = ? AND seq = ?",
    );
    const touch = this.#db.prepare(
      `UPDATE computers SET last_report_at = ?, last_kid = ?, encryption_level = ?,
       search_text = ? WHERE id = ?`,
    );
    return Promise.resolve(this.#db.transaction(() =>
      reports.map((report): StoreOutcome => {
        const result = insert.run(
          report.computerId,
          report.seq,
          report.receivedAt,
          report.encrypted ? 1 : 0,
          report.kid,
          report.body,
          report.digest,
        );
        if (Number(result.changes) === 1) {
          touch.run(
            report.receivedAt,
            report.kid,
            report.encryptionLevel,
            searchTextFor(report),
            report.computerId,
          );
          return "stored";
        }
        const row = existing.get(report.computerId, report.seq) as Row | undefined;
        return row?.digest === report.digest ? "duplicate" : "conflict";
      })
    ));
  }

  async *iterateReports(query: ReportQuery): AsyncIterable<ReportRecord> {
    const conditions: string[] = [];
    const parameters: (string | number)[] = [];
    if (query.computerId !== undefined) {
      conditions.push("computer_id = ?");
      parameters.push(query.computerId);
    }
    if (query.since !== undefined) {
      conditions.push("received_at >= ?");
      parameters.push(query.since);
    }
    for (const match of query.where ?? []) {
      if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(match.name)) {
        throw new RangeError(`Cannot match property "${match.name}": bad name`);
      }
      // A JSON value as text: strings as they are, numbers as written, booleans true/false.
      const asText = "(CASE json_type(body, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' " +
        "ELSE CAST(json_extract(body, ?) AS TEXT) END)";
      conditions.push(`json_valid(body) AND (${asText} = ? OR ${asText} = ?)`);
      for (const section of ["properties", "custom"]) {
        const path = `$.${section}."${match.name}"`;
        parameters.push(path, path, match.value);
      }
    }
    // Newest: the rowid grows with every insert, so its order is the order the server stored
    // them in, read backwards without sorting (no index on received_at, no temporary B-tree).
    const order = query.computerId !== undefined
      ? `seq ${query.order === "newest" ? "DESC" : "ASC"}`
      : `rowid ${query.order === "newest" ? "DESC" : "ASC"}`;
    const sql = "SELECT computer_id, seq, received_at, encrypted, kid, body FROM reports" +
      (conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "") + ` ORDER BY ${order}` +
      (query.limit !== undefined ? " LIMIT ?" : "");
    if (query.limit !== undefined) parameters.push(query.limit);
    // A statement of its own: iterating a shared cached statement would be reset by other calls.
    for (const row of this.#db.prepareUncached(sql).iterate(...parameters)) {
      yield toReport(row as Row);
    }
  }

  protected inTransaction<T>(steps: () => SqlSteps<T>): Promise<T> {
    return Promise.resolve(this.#db.transaction(() => runSqliteSteps(this.#db, steps())));
  }

  /** The transaction holds the write lock (`BEGIN IMMEDIATE`): no other writer comes between. */
  protected *takeSerialSteps(name: NumberedDocumentName, serial: number): SqlSteps<boolean> {
    const [row] = yield {
      sql: "SELECT serial FROM document_serials WHERE name = :name",
      params: { name },
    };
    if ((row ? Number(row.serial) : 0) + 1 !== serial) return false;
    yield {
      sql: `INSERT INTO document_serials (name, serial) VALUES (:name, :serial)
        ON CONFLICT (name) DO UPDATE SET serial = excluded.serial`,
      params: { name, serial },
    };
    return true;
  }

  /** SQLite cannot tell other processes' changes: false, the server polls. */
  watchChanges(_listener: (change: StoreChange) => void): Promise<boolean> {
    return Promise.resolve(false);
  }

  close(): void {
    this.#db.close();
  }
}
