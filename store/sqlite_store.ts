/**
 * The embedded default store: SQLite through `node:sqlite`, in WAL mode so that the admin tool can
 * write while the server runs, with `synchronous=FULL` so that an acknowledged report survives a
 * power cut. Reports are written in batches, one transaction (one fsync) per batch.
 *
 * @module
 */

import { recordWithNextSerial } from "./_document_serials.ts";
import { SqliteDatabase } from "./_sqlite_database.ts";
import {
  PUT_DOCUMENT_SQL,
  PUT_SEALED_CONTENT_KEY_SQL,
  sealedContentKeyParams,
  SqlStore,
} from "./_sql_store.ts";
import { sqliteRunner } from "./_sql_runner.ts";
import { searchTextFor } from "./report_search_text.ts";
import { type Row, toComputer, toReport } from "./_rows.ts";
import type {
  ComputerRecord,
  DocumentName,
  NewComputer,
  NewReport,
  NumberedDocumentName,
  RecordedDocument,
  ReportQuery,
  ReportRecord,
  SealedContentKeyRecord,
  SignNumberedDocument,
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

  deployEncryptionKey(
    kid: string,
    certificate: SignNumberedDocument,
    now: number,
  ): Promise<RecordedDocument> {
    return this.#recordNumbered("encryption-certificate", certificate, () => {
      this.#db.prepare(
        "UPDATE encryption_keys SET role = 'previous' WHERE role = 'current' AND kid <> ?",
      ).run(kid);
      this.#db.prepare(
        "UPDATE encryption_keys SET role = 'current', deployed_at = coalesce(deployed_at, ?) WHERE kid = ?",
      ).run(now, kid);
    });
  }

  disableEncryption(certificate: SignNumberedDocument, _now: number): Promise<RecordedDocument> {
    return this.#recordNumbered("encryption-certificate", certificate, () => {
      this.#db.prepare("UPDATE encryption_keys SET role = 'previous' WHERE role = 'current'").run();
    });
  }

  recordDocument(
    name: NumberedDocumentName,
    sign: SignNumberedDocument,
  ): Promise<RecordedDocument> {
    return this.#recordNumbered(name, sign, () => {});
  }

  /** `alongside` runs in the transaction that records the document. */
  #recordNumbered(
    name: NumberedDocumentName,
    sign: SignNumberedDocument,
    alongside: () => void,
  ): Promise<RecordedDocument> {
    return recordWithNextSerial(name, sign, {
      lastSerial: () => Promise.resolve(this.#lastSerial(name)),
      current: () => this.getDocument(name),
      recordIfNext: (serial, document) =>
        Promise.resolve(this.#db.transaction(() => {
          if (this.#lastSerial(name) + 1 !== serial) return false;
          this.#db.prepare(
            `INSERT INTO document_serials (name, serial) VALUES (?, ?)
             ON CONFLICT (name) DO UPDATE SET serial = excluded.serial`,
          ).run(name, serial);
          this.#putDocument(name, document);
          alongside();
          return true;
        })),
    });
  }

  #lastSerial(name: NumberedDocumentName): number {
    const row = this.#db.prepare("SELECT serial FROM document_serials WHERE name = ?").get(name) as
      | Row
      | undefined;
    return row ? Number(row.serial) : 0;
  }

  #putDocument(name: DocumentName, document: string): void {
    this.#db.prepare(PUT_DOCUMENT_SQL).run({ name, document });
  }

  addSettings(computerIds: number[] | null, document: string, now: number): Promise<number> {
    const insert = this.#db.prepare(
      "INSERT INTO settings (computer_id, document, created_at) VALUES (?, ?, ?) RETURNING serial",
    );
    const serial = this.#db.transaction(() => {
      let last = 0;
      for (const id of computerIds ?? [null]) {
        last = Number((insert.get(id, document, now) as Row).serial);
      }
      return last;
    });
    return Promise.resolve(serial);
  }

  putSealedContentKeys(records: SealedContentKeyRecord[]): Promise<void> {
    const upsert = this.#db.prepare(PUT_SEALED_CONTENT_KEY_SQL);
    this.#db.transaction(() => {
      for (const record of records) upsert.run(sealedContentKeyParams(record));
    });
    return Promise.resolve();
  }

  /** SQLite cannot tell other processes' changes: false, the server polls. */
  watchChanges(_listener: (change: StoreChange) => void): Promise<boolean> {
    return Promise.resolve(false);
  }

  close(): void {
    this.#db.close();
  }
}
