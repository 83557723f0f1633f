/**
 * The web console's part of the SQLite store: operators, the audit log, and the queries behind its
 * pages (a filtered, sorted, paged computer list; overview counts; reports per hour). Kept apart
 * from `sqlite_store.ts`, which delegates to it on the same connection.
 *
 * @module
 */

import type { SqliteDatabase } from "./_sqlite_database.ts";
import type {
  AuditEntry,
  ComputerPage,
  ComputerQuery,
  ComputerRecord,
  ComputerState,
  ComputerSummary,
  OperatorRecord,
  OperatorRole,
  ReportRecord,
} from "./store.ts";

/** The console's tables and the indexes its queries need (additive to the store's schema). */
export const CONSOLE_SCHEMA = `
CREATE TABLE IF NOT EXISTS operators (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  operator TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS computers_by_last_report ON computers (last_report_at);
CREATE INDEX IF NOT EXISTS computers_by_hostname ON computers (hostname);
CREATE INDEX IF NOT EXISTS computers_by_last_kid ON computers (last_kid);
CREATE INDEX IF NOT EXISTS reports_by_received_at ON reports (received_at);
`;

/** Largest page the store answers. */
export const MAX_COMPUTER_PAGE = 500;

type Row = Record<string, unknown>;
type Bind = string | number | null;

const ACTIVE = "revoked_at IS NULL AND replaced_by IS NULL AND removed_at IS NULL";

/** The WHERE clause of each state; `held` takes the time encryption became unavailable. */
const STATE_SQL: Record<ComputerState, string> = {
  active: ACTIVE,
  held: `${ACTIVE} AND encryption_level = 'required' AND
    (last_report_at IS NULL OR last_report_at < :heldSince)`,
  revoked: "revoked_at IS NOT NULL",
  replaced: "replaced_by IS NOT NULL",
  duplicate: "duplicate_of IS NOT NULL AND removed_at IS NULL",
  flagged: "flagged IS NOT NULL AND removed_at IS NULL",
  removed: "removed_at IS NOT NULL",
};

const SORT_SQL: Record<ComputerQuery["sort"], string> = {
  id: "id",
  hostname: "hostname",
  lastReport: "last_report_at",
  registered: "registered_at",
};

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
    return rows.map((row) => ({
      computerId: Number(row.computer_id),
      seq: Number(row.seq),
      receivedAt: Number(row.received_at),
      encrypted: row.encrypted === 1,
      kid: (row.kid ?? null) as string | null,
      body: String(row.body),
    }));
  }

  countReportsOf(computerId: number): number {
    const row = this.#db.prepare("SELECT count(*) AS n FROM reports WHERE computer_id = ?")
      .get(computerId) as Row;
    return Number(row.n);
  }

  reportsPerHour(since: number): Array<[number, number]> {
    const rows = this.#db.prepare(
      `SELECT (received_at / 3600000) * 3600000 AS hour, count(*) AS n FROM reports
       WHERE received_at >= ? GROUP BY hour ORDER BY hour`,
    ).all(since) as Row[];
    return rows.map((row) => [Number(row.hour), Number(row.n)]);
  }

  queryComputers(query: ComputerQuery): ComputerPage {
    const where: string[] = [];
    const params: Record<string, Bind> = {};
    const search = query.search?.trim() ?? "";
    if (search !== "") {
      params.like = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const byId = /^\d{1,15}$/.test(search) ? "id = :id OR " : "";
      if (byId) params.id = Number(search);
      // Property values are searched in the computer's last report only. The unary + keeps
      // SQLite on the primary key (one computer's reports) rather than the received_at index,
      // which made a search over 100,000 computers take seconds (scripts/bench_console.ts).
      where.push(
        `(${byId}hostname LIKE :like ESCAPE '\\' OR EXISTS (SELECT 1 FROM reports r
          WHERE r.computer_id = computers.id AND +r.received_at = computers.last_report_at
          AND r.body LIKE :like ESCAPE '\\'))`,
      );
    }
    if (query.level !== undefined) {
      where.push("encryption_level = :level");
      params.level = query.level;
    }
    if (query.kid === "clear") where.push("last_report_at IS NOT NULL AND last_kid IS NULL");
    else if (query.kid === "none") where.push("last_report_at IS NULL");
    else if (query.kid !== undefined) {
      where.push("last_kid = :kid");
      params.kid = query.kid;
    }
    if (query.state !== undefined) {
      if (query.state === "held") {
        if (query.heldSince === null) where.push("0");
        params.heldSince = query.heldSince;
      }
      where.push(`(${STATE_SQL[query.state]})`);
    }
    if (query.reportedSince !== undefined) {
      where.push("last_report_at >= :reportedSince");
      params.reportedSince = query.reportedSince;
    }
    if (query.silentSince !== undefined) {
      where.push("(last_report_at IS NULL OR last_report_at < :silentSince)");
      params.silentSince = query.silentSince;
    }
    const clause = where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`;
    const total = Number(
      (this.#db.prepare(`SELECT count(*) AS n FROM computers ${clause}`).get(params) as Row).n,
    );
    const direction = query.descending ? "DESC" : "ASC";
    const rows = this.#db.prepare(
      `SELECT * FROM computers ${clause}
       ORDER BY ${SORT_SQL[query.sort]} ${direction} NULLS LAST, id ${direction}
       LIMIT :limit OFFSET :offset`,
    ).all({
      ...params,
      limit: clampLimit(query.limit),
      offset: Math.max(0, query.offset),
    }) as Row[];
    return { total, computers: rows.map(this.#toComputer) };
  }

  summarizeComputers(heldSince: number | null): ComputerSummary {
    const states = Object.keys(STATE_SQL) as ComputerState[];
    const sums = states.map((state) =>
      state === "held" && heldSince === null
        ? "0 AS held"
        : `sum(CASE WHEN ${STATE_SQL[state]} THEN 1 ELSE 0 END) AS ${state}`
    );
    const counts = this.#db.prepare(
      `SELECT count(*) AS total, ${sums.join(", ")} FROM computers`,
    ).get(heldSince === null ? {} : { heldSince }) as Row;
    const byState = Object.fromEntries(
      states.map((state) => [state, Number(counts[state] ?? 0)]),
    ) as Record<ComputerState, number>;
    const grouped = (sql: string) =>
      Object.fromEntries(
        (this.#db.prepare(sql).all() as Row[]).map((row) => [String(row.k), Number(row.n)]),
      );
    return {
      total: Number(counts.total),
      byState,
      byLevel: grouped(
        `SELECT coalesce(encryption_level, 'unknown') AS k, count(*) AS n FROM computers
         WHERE ${ACTIVE} GROUP BY k ORDER BY n DESC`,
      ),
      byKid: grouped(
        `SELECT coalesce(last_kid, CASE WHEN last_report_at IS NULL THEN 'none' ELSE 'clear' END)
         AS k, count(*) AS n FROM computers WHERE ${ACTIVE} GROUP BY k ORDER BY n DESC`,
      ),
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
    return rows.map((row) => ({
      at: Number(row.at),
      operator: String(row.operator),
      action: String(row.action),
      detail: String(row.detail),
    }));
  }
}

function clampLimit(limit: number): number {
  return Math.min(MAX_COMPUTER_PAGE, Math.max(1, Math.floor(limit)));
}

function toOperator(row: Row): OperatorRecord {
  return {
    name: String(row.name),
    role: String(row.role) as OperatorRole,
    passwordHash: String(row.password_hash),
    createdAt: Number(row.created_at),
  };
}
