/**
 * The web console's part of the PostgreSQL store: operators, the audit log, and the queries behind
 * its pages, with the same SQL as SQLite's (`_console_sql.ts`). `postgres_store.ts` delegates to
 * it on the same pool.
 *
 * @module
 */

import {
  type Bind,
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
  toNumberedParameters,
  toOperator,
} from "./_console_sql.ts";
import type { PostgresPool } from "./_postgres_database.ts";
import { toComputer, toReport } from "./_rows.ts";
import type {
  AuditEntry,
  ComputerPage,
  ComputerQuery,
  ComputerSummary,
  OperatorRecord,
  ReportRecord,
} from "./store.ts";

/** The console's queries on one pool. */
export class PostgresConsoleTables {
  readonly #sql: PostgresPool;

  constructor(sql: PostgresPool) {
    this.#sql = sql;
  }

  async #query(sql: string, params: Record<string, Bind> = {}): Promise<Row[]> {
    const { text, values } = toNumberedParameters(sql, params);
    return [...await this.#sql.unsafe(text, values)] as Row[];
  }

  async listReportsPage(
    computerId: number,
    offset: number,
    limit: number,
  ): Promise<ReportRecord[]> {
    return (await this.#sql`
      SELECT * FROM reports WHERE computer_id = ${computerId} ORDER BY seq DESC
      LIMIT ${clampLimit(limit)} OFFSET ${Math.max(0, offset)}`).map(toReport);
  }

  async countReportsOf(computerId: number): Promise<number> {
    const [row] = await this
      .#sql`SELECT count(*) AS n FROM reports WHERE computer_id = ${computerId}`;
    return Number(row.n);
  }

  async reportsPerHour(since: number): Promise<Array<[number, number]>> {
    return (await this.#query(REPORTS_PER_HOUR_SQL, { since })).map((row) => [
      Number(row.hour),
      Number(row.n),
    ]);
  }

  async queryComputers(query: ComputerQuery): Promise<ComputerPage> {
    const { clause, params } = computerQueryWhere(query, { like: "ILIKE" });
    const [counted] = await this.#query(`SELECT count(*) AS n FROM computers ${clause}`, params);
    const rows = await this.#query(
      `SELECT * FROM computers ${clause} ${computerQueryOrder(query)} LIMIT :limit OFFSET :offset`,
      { ...params, limit: clampLimit(query.limit), offset: Math.max(0, query.offset) },
    );
    return { total: Number(counted.n), computers: rows.map(toComputer) };
  }

  async summarizeComputers(heldSince: number | null): Promise<ComputerSummary> {
    const [counts] = await this.#query(
      `SELECT count(*) AS total, ${stateSumsSql(heldSince)} FROM computers`,
      heldSince === null ? {} : { heldSince },
    );
    const grouped = async (sql: string) =>
      Object.fromEntries((await this.#query(sql)).map((row) => [String(row.k), Number(row.n)]));
    return {
      total: Number(counts.total),
      byState: countsByState(counts),
      byLevel: await grouped(BY_LEVEL_SQL),
      byKid: await grouped(BY_KID_SQL),
    };
  }

  async addOperator(operator: OperatorRecord): Promise<boolean> {
    const result = await this.#sql`
      INSERT INTO operators (name, role, password_hash, created_at)
      VALUES (${operator.name}, ${operator.role}, ${operator.passwordHash}, ${operator.createdAt})
      ON CONFLICT DO NOTHING`;
    return result.count === 1;
  }

  async getOperator(name: string): Promise<OperatorRecord | null> {
    const [row] = await this.#sql`SELECT * FROM operators WHERE name = ${name}`;
    return row ? toOperator(row) : null;
  }

  async listOperators(): Promise<OperatorRecord[]> {
    return (await this.#sql`SELECT * FROM operators ORDER BY name`).map(toOperator);
  }

  async setOperatorPassword(name: string, passwordHash: string): Promise<boolean> {
    const result = await this.#sql`
      UPDATE operators SET password_hash = ${passwordHash} WHERE name = ${name}`;
    return result.count === 1;
  }

  async removeOperator(name: string): Promise<boolean> {
    return (await this.#sql`DELETE FROM operators WHERE name = ${name}`).count === 1;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.#sql`
      INSERT INTO audit_log (at, operator, action, detail)
      VALUES (${entry.at}, ${entry.operator}, ${entry.action}, ${entry.detail})`;
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    return (await this.#sql`SELECT * FROM audit_log ORDER BY id DESC LIMIT ${clampLimit(limit)}`)
      .map(toAuditEntry);
  }
}
