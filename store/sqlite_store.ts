/**
 * The embedded default store: SQLite through `node:sqlite`, in WAL mode so that the admin tool can
 * write while the server runs, with `synchronous=FULL` so that an acknowledged report survives a
 * power cut. Reports are written in batches, one transaction (one fsync) per batch.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type {
  ComputerRecord,
  DocumentName,
  EncryptionKeyRecord,
  NewComputer,
  NewReport,
  ReportRecord,
  SettingsRecord,
  Store,
  StoreOutcome,
} from "./store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS computers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  public_key TEXT NOT NULL UNIQUE,
  host_identity TEXT,
  hostname TEXT,
  registered_at INTEGER NOT NULL,
  last_report_at INTEGER,
  last_kid TEXT,
  encryption_level TEXT,
  revoked_at INTEGER,
  replaced_by INTEGER,
  duplicate_of INTEGER,
  flagged TEXT,
  removed_at INTEGER
);
CREATE INDEX IF NOT EXISTS computers_by_host ON computers (host_identity);
CREATE TABLE IF NOT EXISTS reports (
  computer_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  encrypted INTEGER NOT NULL,
  kid TEXT,
  body TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (computer_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS encryption_keys (
  kid TEXT PRIMARY KEY,
  spki TEXT NOT NULL,
  bits INTEGER NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deployed_at INTEGER,
  retired_at INTEGER
);
CREATE TABLE IF NOT EXISTS documents (
  name TEXT PRIMARY KEY,
  document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
  serial INTEGER PRIMARY KEY AUTOINCREMENT,
  computer_id INTEGER,
  document TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS settings_by_computer ON settings (computer_id);
`;

type Row = Record<string, unknown>;

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
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA busy_timeout = 10000");
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = FULL");
    this.#db.exec("PRAGMA foreign_keys = ON");
    this.#db.exec(SCHEMA);
  }

  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  registerComputer(computer: NewComputer): Promise<ComputerRecord> {
    const row = this.#prepare(
      `INSERT INTO computers (public_key, host_identity, hostname, registered_at)
       VALUES (?, ?, ?, ?) RETURNING *`,
    ).get(computer.publicKey, computer.hostIdentity, computer.hostname, computer.registeredAt);
    return Promise.resolve(toComputer(row as Row));
  }

  getComputer(id: number): Promise<ComputerRecord | null> {
    const row = this.#prepare("SELECT * FROM computers WHERE id = ?").get(id);
    return Promise.resolve(row ? toComputer(row as Row) : null);
  }

  findComputerByPublicKey(publicKey: string): Promise<ComputerRecord | null> {
    const row = this.#prepare("SELECT * FROM computers WHERE public_key = ?").get(publicKey);
    return Promise.resolve(row ? toComputer(row as Row) : null);
  }

  listComputers(): Promise<ComputerRecord[]> {
    const rows = this.#prepare("SELECT * FROM computers ORDER BY id").all();
    return Promise.resolve(rows.map((row) => toComputer(row as Row)));
  }

  revokeComputer(id: number, now: number): Promise<boolean> {
    const result = this.#prepare(
      "UPDATE computers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    ).run(now, id);
    return Promise.resolve(Number(result.changes) === 1);
  }

  listRevokedIds(): Promise<number[]> {
    const rows = this.#prepare("SELECT id FROM computers WHERE revoked_at IS NOT NULL ORDER BY id")
      .all() as Row[];
    return Promise.resolve(rows.map((row) => Number(row.id)));
  }

  listInactiveIds(): Promise<number[]> {
    const rows = this.#prepare(
      `SELECT id FROM computers WHERE revoked_at IS NOT NULL OR replaced_by IS NOT NULL
       OR removed_at IS NOT NULL ORDER BY id`,
    ).all() as Row[];
    return Promise.resolve(rows.map((row) => Number(row.id)));
  }

  findComputersByHostIdentity(hostIdentity: string): Promise<ComputerRecord[]> {
    const rows = this.#prepare(
      "SELECT * FROM computers WHERE host_identity = ? AND removed_at IS NULL ORDER BY id",
    ).all(hostIdentity) as Row[];
    return Promise.resolve(rows.map(toComputer));
  }

  linkComputers(
    oldId: number,
    newId: number,
    link: "replaced_by" | "duplicate_of",
  ): Promise<void> {
    const sql = link === "replaced_by"
      ? "UPDATE computers SET replaced_by = ?, duplicate_of = NULL WHERE id = ?"
      : "UPDATE computers SET duplicate_of = ? WHERE id = ? AND replaced_by IS NULL";
    this.#prepare(sql).run(newId, oldId);
    return Promise.resolve();
  }

  flagComputer(id: number, reason: string | null): Promise<void> {
    this.#prepare("UPDATE computers SET flagged = ? WHERE id = ?").run(reason, id);
    return Promise.resolve();
  }

  removeComputer(id: number, now: number): Promise<void> {
    this.#prepare("UPDATE computers SET removed_at = ? WHERE id = ? AND removed_at IS NULL").run(
      now,
      id,
    );
    return Promise.resolve();
  }

  storeReports(reports: NewReport[]): Promise<StoreOutcome[]> {
    const insert = this.#prepare(
      `INSERT INTO reports (computer_id, seq, received_at, encrypted, kid, body, digest)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const existing = this.#prepare("SELECT digest FROM reports WHERE computer_id = ? AND seq = ?");
    const touch = this.#prepare(
      `UPDATE computers SET last_report_at = ?, last_kid = ?, encryption_level = ?
       WHERE id = ?`,
    );
    return Promise.resolve(this.#transaction(() =>
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
          touch.run(report.receivedAt, report.kid, report.encryptionLevel, report.computerId);
          return "stored";
        }
        const row = existing.get(report.computerId, report.seq) as Row | undefined;
        return row?.digest === report.digest ? "duplicate" : "conflict";
      })
    ));
  }

  listReports(computerId: number): Promise<ReportRecord[]> {
    const rows = this.#prepare(
      "SELECT * FROM reports WHERE computer_id = ? ORDER BY seq",
    ).all(computerId) as Row[];
    return Promise.resolve(rows.map((row) => ({
      computerId: Number(row.computer_id),
      seq: Number(row.seq),
      receivedAt: Number(row.received_at),
      encrypted: row.encrypted === 1,
      kid: (row.kid ?? null) as string | null,
      body: String(row.body),
    })));
  }

  countReports(): Promise<number> {
    const row = this.#prepare("SELECT count(*) AS n FROM reports").get() as Row;
    return Promise.resolve(Number(row.n));
  }

  listEncryptionKeys(): Promise<EncryptionKeyRecord[]> {
    const rows = this.#prepare("SELECT * FROM encryption_keys ORDER BY created_at, kid")
      .all() as Row[];
    return Promise.resolve(rows.map((row) => ({
      kid: String(row.kid),
      spki: String(row.spki),
      bits: Number(row.bits),
      role: String(row.role) as EncryptionKeyRecord["role"],
      createdAt: Number(row.created_at),
      deployedAt: row.deployed_at === null ? null : Number(row.deployed_at),
      retiredAt: row.retired_at === null ? null : Number(row.retired_at),
    })));
  }

  addEncryptionKey(key: EncryptionKeyRecord): Promise<void> {
    this.#prepare(
      `INSERT INTO encryption_keys (kid, spki, bits, role, created_at, deployed_at, retired_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(key.kid, key.spki, key.bits, key.role, key.createdAt, key.deployedAt, key.retiredAt);
    return Promise.resolve();
  }

  deployEncryptionKey(kid: string, certificate: string, now: number): Promise<void> {
    this.#transaction(() => {
      this.#prepare(
        "UPDATE encryption_keys SET role = 'previous' WHERE role = 'current' AND kid <> ?",
      ).run(kid);
      this.#prepare(
        "UPDATE encryption_keys SET role = 'current', deployed_at = coalesce(deployed_at, ?) WHERE kid = ?",
      ).run(now, kid);
      this.#putDocument("encryption-certificate", certificate);
    });
    return Promise.resolve();
  }

  disableEncryption(certificate: string, _now: number): Promise<void> {
    this.#transaction(() => {
      this.#prepare("UPDATE encryption_keys SET role = 'previous' WHERE role = 'current'").run();
      this.#putDocument("encryption-certificate", certificate);
    });
    return Promise.resolve();
  }

  getDocument(name: DocumentName): Promise<string | null> {
    const row = this.#prepare("SELECT document FROM documents WHERE name = ?").get(name) as
      | Row
      | undefined;
    return Promise.resolve(row ? String(row.document) : null);
  }

  putDocument(name: DocumentName, document: string): Promise<void> {
    this.#putDocument(name, document);
    return Promise.resolve();
  }

  #putDocument(name: DocumentName, document: string): void {
    this.#prepare(
      `INSERT INTO documents (name, document) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET document = excluded.document`,
    ).run(name, document);
  }

  addSettings(computerIds: number[] | null, document: string, now: number): Promise<number> {
    const insert = this.#prepare(
      "INSERT INTO settings (computer_id, document, created_at) VALUES (?, ?, ?) RETURNING serial",
    );
    const serial = this.#transaction(() => {
      let last = 0;
      for (const id of computerIds ?? [null]) {
        last = Number((insert.get(id, document, now) as Row).serial);
      }
      return last;
    });
    return Promise.resolve(serial);
  }

  listSettingsFor(computerId: number): Promise<SettingsRecord[]> {
    const rows = this.#prepare(
      `SELECT * FROM settings WHERE computer_id IS NULL OR computer_id = ? ORDER BY serial`,
    ).all(computerId) as Row[];
    return Promise.resolve(rows.map((row) => ({
      serial: Number(row.serial),
      computerId: row.computer_id === null ? null : Number(row.computer_id),
      document: String(row.document),
      createdAt: Number(row.created_at),
    })));
  }

  close(): void {
    this.#db.close();
  }
}

function toComputer(row: Row): ComputerRecord {
  const numberOrNull = (value: unknown) =>
    value === null || value === undefined ? null : Number(value);
  return {
    id: Number(row.id),
    publicKey: String(row.public_key),
    hostIdentity: (row.host_identity ?? null) as string | null,
    hostname: (row.hostname ?? null) as string | null,
    registeredAt: Number(row.registered_at),
    lastReportAt: numberOrNull(row.last_report_at),
    lastKid: (row.last_kid ?? null) as string | null,
    encryptionLevel: (row.encryption_level ?? null) as string | null,
    revokedAt: numberOrNull(row.revoked_at),
    replacedBy: numberOrNull(row.replaced_by),
    duplicateOf: numberOrNull(row.duplicate_of),
    flagged: (row.flagged ?? null) as string | null,
    removedAt: numberOrNull(row.removed_at),
  };
}
