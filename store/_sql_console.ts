/**
 * The web console's part of the store: operators, the audit log, and the queries behind its
 * pages (a filtered, sorted, paged computer list; overview counts; reports per hour), written once
 * over a {@linkcode SqlRunner} with the SQL of `_console_sql.ts`. `_sql_store.ts` delegates to it
 * on the backend's own connection (SQLite) or pool (PostgreSQL); only the dialect's
 * case-insensitive LIKE differs.
 *
 * @module
 */

import {
  BY_KID_SQL,
  BY_LEVEL_SQL,
  clampLimit,
  computerQueryOrder,
  computerQueryWhere,
  type ConsoleDialect,
  countsByState,
  REPORTS_PER_HOUR_SQL,
  stateSumsSql,
  toAuditEntry,
  toOperator,
} from "./_console_sql.ts";
import { toComputer, toReport } from "./_rows.ts";
import type { SqlRunner } from "./_sql_runner.ts";
import type {
  AuditEntry,
  ComputerPage,
  ComputerQuery,
  ComputerSummary,
  OperatorRecord,
  ReportRecord,
} from "./store.ts";

/** The console's queries on one backend. */
export class SqlConsoleTables {
  readonly #sql: SqlRunner;
  readonly #dialect: ConsoleDialect;

  constructor(sql: SqlRunner, dialect: ConsoleDialect) {
    this.#sql = sql;
    this.#dialect = dialect;
  }

  async listReportsPage(
    computerId: number,
    offset: number,
    limit: number,
  ): Promise<ReportRecord[]> {
    return (await this.#sql.all(
      `SELECT * FROM reports WHERE computer_id = :computerId ORDER BY seq DESC
       LIMIT :limit OFFSET :offset`,
      { computerId, limit: clampLimit(limit), offset: Math.max(0, offset) },
    )).map(toReport);
  }

  async countReportsOf(computerId: number): Promise<number> {
    const [row] = await this.#sql.all(
      "SELECT count(*) AS n FROM reports WHERE computer_id = :computerId",
      { computerId },
    );
    return Number(row.n);
  }

  async reportsPerHour(since: number): Promise<Array<[number, number]>> {
    return (await this.#sql.all(REPORTS_PER_HOUR_SQL, { since })).map((row) => [
      Number(row.hour),
      Number(row.n),
    ]);
  }

  async queryComputers(query: ComputerQuery): Promise<ComputerPage> {
    const { clause, params } = computerQueryWhere(query, this.#dialect);
    const [counted] = await this.#sql.all(`SELECT count(*) AS n FROM computers ${clause}`, params);
    const rows = await this.#sql.all(
      `SELECT * FROM computers ${clause} ${computerQueryOrder(query)} LIMIT :limit OFFSET :offset`,
      { ...params, limit: clampLimit(query.limit), offset: Math.max(0, query.offset) },
    );
    return { total: Number(counted.n), computers: rows.map(toComputer) };
  }

  async summarizeComputers(heldSince: number | null): Promise<ComputerSummary> {
    const [counts] = await this.#sql.all(
      `SELECT count(*) AS total, ${stateSumsSql(heldSince)} FROM computers`,
      heldSince === null ? {} : { heldSince },
    );
    const grouped = async (sql: string) =>
      Object.fromEntries((await this.#sql.all(sql)).map((row) => [String(row.k), Number(row.n)]));
    return {
      total: Number(counts.total),
      byState: countsByState(counts),
      byLevel: await grouped(BY_LEVEL_SQL),
      byKid: await grouped(BY_KID_SQL),
    };
  }

  async addOperator(operator: OperatorRecord): Promise<boolean> {
    const { name, role, passwordHash, createdAt } = operator;
    return await this.#sql.run(
      `INSERT INTO operators (name, role, password_hash, created_at)
       VALUES (:name, :role, :passwordHash, :createdAt) ON CONFLICT DO NOTHING`,
      { name, role, passwordHash, createdAt },
    ) === 1;
  }

  async getOperator(name: string): Promise<OperatorRecord | null> {
    const [row] = await this.#sql.all("SELECT * FROM operators WHERE name = :name", { name });
    return row ? toOperator(row) : null;
  }

  async listOperators(): Promise<OperatorRecord[]> {
    return (await this.#sql.all("SELECT * FROM operators ORDER BY name")).map(toOperator);
  }

  async setOperatorPassword(name: string, passwordHash: string): Promise<boolean> {
    return await this.#sql.run(
      "UPDATE operators SET password_hash = :passwordHash WHERE name = :name",
      { name, passwordHash },
    ) === 1;
  }

  async removeOperator(name: string): Promise<boolean> {
    return await this.#sql.run("DELETE FROM operators WHERE name = :name", { name }) === 1;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    const { at, operator, action, detail } = entry;
    await this.#sql.run(
      `INSERT INTO audit_log (at, operator, action, detail)
       VALUES (:at, :operator, :action, :detail)`,
      { at, operator, action, detail },
    );
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    return (await this.#sql.all("SELECT * FROM audit_log ORDER BY id DESC LIMIT :limit", {
      limit: clampLimit(limit),
    })).map(toAuditEntry);
  }
}
