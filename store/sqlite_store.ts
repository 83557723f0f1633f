/**
 * The embedded default store: SQLite through `node:sqlite`, in WAL mode so that the admin tool can
 * write while the server runs, with `synchronous=FULL` so that an acknowledged report survives a
 * power cut. Reports are written in batches, one transaction (one fsync) per batch.
 *
 * @module
 */

import { recordWithNextSerial } from "./_document_serials.ts";
import { SqliteConsoleTables } from "./_sqlite_console.ts";
import { SqliteDatabase } from "./_sqlite_database.ts";
import { reportSearchText } from "./report_search_text.ts";
import {
  type Row,
  toComputer,
  toEncryptionKey,
  toReport,
  toSealedContentKey,
  toServer,
  toSettings,
} from "./_rows.ts";
import type { ServerRecord } from "./server_records.ts";
import type {
  AuditEntry,
  BundleSenderRecord,
  ComputerPage,
  ComputerQuery,
  ComputerRecord,
  ComputerSummary,
  DocumentName,
  EncryptionKeyRecord,
  KeyUsage,
  NewComputer,
  NewReport,
  NumberedDocumentName,
  OperatorRecord,
  RecordedDocument,
  ReportQuery,
  ReportRecord,
  SealedContentKeyRecord,
  SettingsRecord,
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
export class SqliteStore implements Store {
  readonly #db: SqliteDatabase;
  readonly #console: SqliteConsoleTables;

  /**
   * @throws {StoreSchemaError} When the file was migrated by a newer version of this software.
   */
  constructor(path: string) {
    this.#db = new SqliteDatabase(path);
    this.#console = new SqliteConsoleTables(this.#db, toComputer);
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

  getComputer(id: number): Promise<ComputerRecord | null> {
    const row = this.#db.prepare("SELECT * FROM computers WHERE id = ?").get(id);
    return Promise.resolve(row ? toComputer(row as Row) : null);
  }

  findComputerByPublicKey(publicKey: string): Promise<ComputerRecord | null> {
    const row = this.#db.prepare("SELECT * FROM computers WHERE public_key = ?").get(publicKey);
    return Promise.resolve(row ? toComputer(row as Row) : null);
  }

  listComputers(): Promise<ComputerRecord[]> {
    const rows = this.#db.prepare("SELECT * FROM computers ORDER BY id").all();
    return Promise.resolve(rows.map((row) => toComputer(row as Row)));
  }

  revokeComputer(id: number, now: number): Promise<boolean> {
    const result = this.#db.prepare(
      "UPDATE computers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    ).run(now, id);
    return Promise.resolve(Number(result.changes) === 1);
  }

  listRevokedIds(): Promise<number[]> {
    const rows = this.#db.prepare(
      "SELECT id FROM computers WHERE revoked_at IS NOT NULL ORDER BY id",
    )
      .all() as Row[];
    return Promise.resolve(rows.map((row) => Number(row.id)));
  }

  listInactiveIds(): Promise<number[]> {
    const rows = this.#db.prepare(
      `SELECT id FROM computers WHERE revoked_at IS NOT NULL OR replaced_by IS NOT NULL
       OR removed_at IS NOT NULL ORDER BY id`,
    ).all() as Row[];
    return Promise.resolve(rows.map((row) => Number(row.id)));
  }

  findComputersByHostIdentity(hostIdentity: string): Promise<ComputerRecord[]> {
    const rows = this.#db.prepare(
      "SELECT * FROM computers WHERE host_identity = ? AND removed_at IS NULL ORDER BY id",
    ).all(hostIdentity) as Row[];
    return Promise.resolve(rows.map(toComputer));
  }

  linkComputers(
    oldId: number,
    newId: number,
    link: "replaced_by" | "duplicate_of",
    handoverLastSeq = 0,
  ): Promise<void> {
    if (link === "replaced_by") {
      this.#db.prepare(
        `UPDATE computers SET replaced_by = ?, handover_last_seq = ?, duplicate_of = NULL
         WHERE id = ?`,
      ).run(newId, handoverLastSeq, oldId);
    } else {
      this.#db.prepare(
        "UPDATE computers SET duplicate_of = ? WHERE id = ? AND replaced_by IS NULL",
      ).run(newId, oldId);
    }
    return Promise.resolve();
  }

  flagComputer(id: number, reason: string | null): Promise<void> {
    this.#db.prepare("UPDATE computers SET flagged = ? WHERE id = ?").run(reason, id);
    return Promise.resolve();
  }

  removeComputer(id: number, now: number): Promise<void> {
    this.#db.prepare("UPDATE computers SET removed_at = ? WHERE id = ? AND removed_at IS NULL").run(
      now,
      id,
    );
    return Promise.resolve();
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
            reportSearchText(report.body),
            report.computerId,
          );
          return "stored";
        }
        const row = existing.get(report.computerId, report.seq) as Row | undefined;
        return row?.digest === report.digest ? "duplicate" : "conflict";
      })
    ));
  }

  listReports(computerId: number): Promise<ReportRecord[]> {
    const rows = this.#db.prepare(
      "SELECT * FROM reports WHERE computer_id = ? ORDER BY seq",
    ).all(computerId) as Row[];
    return Promise.resolve(rows.map(toReport));
  }

  lastReport(computerId: number): Promise<ReportRecord | null> {
    const row = this.#db.prepare(
      "SELECT * FROM reports WHERE computer_id = ? ORDER BY seq DESC LIMIT 1",
    ).get(computerId) as Row | undefined;
    return Promise.resolve(row ? toReport(row) : null);
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

  countReports(): Promise<number> {
    const row = this.#db.prepare("SELECT count(*) AS n FROM reports").get() as Row;
    return Promise.resolve(Number(row.n));
  }

  listEncryptionKeys(): Promise<EncryptionKeyRecord[]> {
    const rows = this.#db.prepare("SELECT * FROM encryption_keys ORDER BY created_at, kid")
      .all() as Row[];
    return Promise.resolve(rows.map(toEncryptionKey));
  }

  addEncryptionKey(key: EncryptionKeyRecord): Promise<void> {
    this.#db.prepare(
      `INSERT INTO encryption_keys (kid, spki, bits, role, created_at, deployed_at, retired_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(key.kid, key.spki, key.bits, key.role, key.createdAt, key.deployedAt, key.retiredAt);
    return Promise.resolve();
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

  retireEncryptionKey(kid: string, now: number): Promise<boolean> {
    const result = this.#db.prepare(
      `UPDATE encryption_keys SET role = 'retired', retired_at = ?
       WHERE kid = ? AND role IN ('pending', 'previous')`,
    ).run(now, kid);
    return Promise.resolve(Number(result.changes) === 1);
  }

  listKeyUsage(kid: string, since: number): Promise<KeyUsage[]> {
    const rows = this.#db.prepare(
      `SELECT computer_id, count(*) AS reports, max(received_at) AS last_at FROM reports
       WHERE kid = ? AND received_at >= ? GROUP BY computer_id ORDER BY last_at DESC`,
    ).all(kid, since) as Row[];
    return Promise.resolve(rows.map((row) => ({
      computerId: Number(row.computer_id),
      reports: Number(row.reports),
      lastAt: Number(row.last_at),
    })));
  }

  setBundleSender(computerId: number, allowed: boolean, now: number): Promise<void> {
    if (allowed) {
      this.#db.prepare(
        "INSERT INTO bundle_senders (computer_id, allowed_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
      ).run(computerId, now);
    } else {
      this.#db.prepare("DELETE FROM bundle_senders WHERE computer_id = ?").run(computerId);
    }
    return Promise.resolve();
  }

  isBundleSender(computerId: number): Promise<boolean> {
    const row = this.#db.prepare("SELECT 1 AS yes FROM bundle_senders WHERE computer_id = ?").get(
      computerId,
    );
    return Promise.resolve(row !== undefined);
  }

  listBundleSenders(): Promise<BundleSenderRecord[]> {
    const rows = this.#db.prepare("SELECT * FROM bundle_senders ORDER BY computer_id")
      .all() as Row[];
    return Promise.resolve(rows.map((row) => ({
      computerId: Number(row.computer_id),
      allowedAt: Number(row.allowed_at),
    })));
  }

  getDocument(name: DocumentName): Promise<string | null> {
    const row = this.#db.prepare("SELECT document FROM documents WHERE name = ?").get(name) as
      | Row
      | undefined;
    return Promise.resolve(row ? String(row.document) : null);
  }

  putDocument(name: DocumentName, document: string): Promise<void> {
    this.#putDocument(name, document);
    return Promise.resolve();
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
    this.#db.prepare(
      `INSERT INTO documents (name, document) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET document = excluded.document`,
    ).run(name, document);
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

  listSettingsFor(computerId: number): Promise<SettingsRecord[]> {
    const rows = this.#db.prepare(
      `SELECT * FROM settings WHERE computer_id IS NULL OR computer_id = ? ORDER BY serial`,
    ).all(computerId) as Row[];
    return Promise.resolve(rows.map(toSettings));
  }

  listSettings(): Promise<SettingsRecord[]> {
    const rows = this.#db.prepare("SELECT * FROM settings ORDER BY serial").all() as Row[];
    return Promise.resolve(rows.map(toSettings));
  }

  getSealedContentKey(computerId: number, kid: string): Promise<SealedContentKeyRecord | null> {
    const row = this.#db.prepare(
      "SELECT * FROM sealed_content_keys WHERE computer_id = ? AND kid = ?",
    ).get(computerId, kid) as Row | undefined;
    return Promise.resolve(row ? toSealedContentKey(row) : null);
  }

  putSealedContentKeys(records: SealedContentKeyRecord[]): Promise<void> {
    const upsert = this.#db.prepare(
      `INSERT INTO sealed_content_keys (computer_id, kid, wrapped_key_hash, sealed, created_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (computer_id, kid) DO UPDATE SET wrapped_key_hash = excluded.wrapped_key_hash,
         sealed = excluded.sealed, created_at = excluded.created_at`,
    );
    this.#db.transaction(() => {
      for (const r of records) {
        upsert.run(r.computerId, r.kid, r.wrappedKeyHash, r.sealed, r.createdAt);
      }
    });
    return Promise.resolve();
  }

  deleteSealedContentKeys(kid: string): Promise<void> {
    this.#db.prepare("DELETE FROM sealed_content_keys WHERE kid = ?").run(kid);
    return Promise.resolve();
  }

  listReportsPage(computerId: number, offset: number, limit: number): Promise<ReportRecord[]> {
    return Promise.resolve(this.#console.listReportsPage(computerId, offset, limit));
  }

  countReportsOf(computerId: number): Promise<number> {
    return Promise.resolve(this.#console.countReportsOf(computerId));
  }

  reportsPerHour(since: number): Promise<Array<[number, number]>> {
    return Promise.resolve(this.#console.reportsPerHour(since));
  }

  queryComputers(query: ComputerQuery): Promise<ComputerPage> {
    return Promise.resolve(this.#console.queryComputers(query));
  }

  summarizeComputers(heldSince: number | null): Promise<ComputerSummary> {
    return Promise.resolve(this.#console.summarizeComputers(heldSince));
  }

  addOperator(operator: OperatorRecord): Promise<boolean> {
    return Promise.resolve(this.#console.addOperator(operator));
  }

  getOperator(name: string): Promise<OperatorRecord | null> {
    return Promise.resolve(this.#console.getOperator(name));
  }

  listOperators(): Promise<OperatorRecord[]> {
    return Promise.resolve(this.#console.listOperators());
  }

  setOperatorPassword(name: string, passwordHash: string): Promise<boolean> {
    return Promise.resolve(this.#console.setOperatorPassword(name, passwordHash));
  }

  removeOperator(name: string): Promise<boolean> {
    return Promise.resolve(this.#console.removeOperator(name));
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    this.#console.appendAudit(entry);
    return Promise.resolve();
  }

  listAudit(limit: number): Promise<AuditEntry[]> {
    return Promise.resolve(this.#console.listAudit(limit));
  }

  recordServer(server: ServerRecord): Promise<void> {
    this.#db.prepare(
      `INSERT INTO servers (name, url, started_at, last_seen_at, stopped_at, kids)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET url = excluded.url, started_at = excluded.started_at,
         last_seen_at = excluded.last_seen_at, stopped_at = excluded.stopped_at,
         kids = excluded.kids`,
    ).run(
      server.name,
      server.url,
      server.startedAt,
      server.lastSeenAt,
      server.stoppedAt,
      server.kids.join(" "),
    );
    return Promise.resolve();
  }

  listServers(): Promise<ServerRecord[]> {
    const rows = this.#db.prepare("SELECT * FROM servers ORDER BY name").all() as Row[];
    return Promise.resolve(rows.map(toServer));
  }

  /** SQLite cannot tell other processes' changes: false, the server polls. */
  watchChanges(_listener: (change: StoreChange) => void): Promise<boolean> {
    return Promise.resolve(false);
  }

  close(): void {
    this.#db.close();
  }
}
