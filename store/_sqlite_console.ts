/**
 * The web console's part of the SQLite store: operators, the audit log, and the queries behind its
 * pages (a filtered, sorted, paged computer list; overview counts; reports per hour). Kept apart
 * from `sqlite_store.ts`, which delegates to it on the same connection.
 *
 * @module
 */

import {
  BY_KID_SQL,
  BY_LEVEL_SQL,
  clampLimit,
  computerQueryOrder,
  computerQueryWhere,
  countsByState,
  REPORTS_PER_HOUR_SQL,
  type Row,
  stateSumsSql,
  toAuditEntry,
  toOperator,
} from "./_console_sql.ts";
import { toReport } from "./_rows.ts";
import type { SqliteDatabase } from "./_sqlite_database.ts";
import type {
  AuditEntry,
  ComputerPage,
  ComputerQuery,
  ComputerRecord,
  ComputerSummary,
  OperatorRecord,
  ReportRecord,
} from "./store.ts";

/** The console's queries on one connection. */
export class SqliteConsoleTables {
  readonly #db: SqliteDatabase;
  readonly #toComputer: (row: Row) => ComputerRecord;

  constructor(db: SqliteDatabase, toComputer: (row: Row) => ComputerRecord) {
    this.#db = db;
    this.#toComputer = toComputer;
  }

  listReportsPage(computerId: number, offset: number, limit: number): ReportRecord[] {
    const rows = this.#db.prepare(
      "SELECT * FROM reports WHERE computer_id = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
    ).all(computerId, clampLimit(limit), Math.max(0, offset)) as Row[];
    return rows.map(toReport);
  }

  countReportsOf(computerId: number): number {
    const row = this.#db.prepare("SELECT count(*) AS n FROM reports WHERE computer_id = ?")
      .get(computerId) as Row;
    return Number(row.n);
  }

  reportsPerHour(since: number): Array<[number, number]> {
    const rows = this.#db.prepare(REPORTS_PER_HOUR_SQL).all({ since }) as Row[];
    return rows.map((row) => [Number(row.hour), Number(row.n)]);
  }

  queryComputers(query: ComputerQuery): ComputerPage {
    const { clause, params } = computerQueryWhere(query, { like: "LIKE" });
    const total = Number(
      (this.#db.prepare(`SELECT count(*) AS n FROM computers ${clause}`).get(params) as Row).n,
    );
    const rows = this.#db.prepare(
      `SELECT * FROM computers ${clause} ${computerQueryOrder(query)} LIMIT :limit OFFSET :offset`,
    ).all({
      ...params,
      limit: clampLimit(query.limit),
      offset: Math.max(0, query.offset),
    }) as Row[];
    return { total, computers: rows.map(this.#toComputer) };
  }

  summarizeComputers(heldSince: number | null): ComputerSummary {
    const counts = this.#db.prepare(
      `SELECT count(*) AS total, ${stateSumsSql(heldSince)} FROM computers`,
    ).get(heldSince === null ? {} : { heldSince }) as Row;
    const grouped = (sql: string) =>
      Object.fromEntries(
        (this.#db.prepare(sql).all() as Row[]).map((row) => [String(row.k), Number(row.n)]),
      );
    return {
      total: Number(counts.total),
      byState: countsByState(counts),
      byLevel: grouped(BY_LEVEL_SQL),
      byKid: grouped(BY_KID_SQL),
    };
  }

  addOperator(operator: OperatorRecord): boolean {
    const result = this.#db.prepare(
      `INSERT INTO operators (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ).run(operator.name, operator.role, operator.passwordHash, operator.createdAt);
    return Number(result.changes) === 1;
  }

  getOperator(name: string): OperatorRecord | null {
    const row = this.#db.prepare("SELECT * FROM operators WHERE name = ?").get(name) as
      | Row
      | undefined;
    return row ? toOperator(row) : null;
  }

  listOperators(): OperatorRecord[] {
    return (this.#db.prepare("SELECT * FROM operators ORDER BY name").all() as Row[])
      .map(toOperator);
  }

  setOperatorPassword(name: string, passwordHash: string): boolean {
    const result = this.#db.prepare("UPDATE operators SET password_hash = ? WHERE name = ?")
      .run(passwordHash, name);
    return Number(result.changes) === 1;
  }

  removeOperator(name: string): boolean {
    return Number(this.#db.prepare("DELETE FROM operators WHERE name = ?").run(name).changes) ===
      1;
  }

  appendAudit(entry: AuditEntry): void {
    this.#db.prepare("INSERT INTO audit_log (at, operator, action, detail) VALUES (?, ?, ?, ?)")
      .run(entry.at, entry.operator, entry.action, entry.detail);
  }

  listAudit(limit: number): AuditEntry[] {
    const rows = this.#db.prepare("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?")
      .all(clampLimit(limit)) as Row[];
    return rows.map(toAuditEntry);
  }
}
