/**
 * The SQL of the web console's queries, run on both backends by `_sql_console.ts`: which
 * computers each state means, the sort columns, and the filtered computer list's WHERE clause with
 * named parameters (`:name`), which each backend binds in its own way (`_sql_runner.ts`). One
 * place, so that SQLite and PostgreSQL answer the console alike.
 *
 * @module
 */

import type {
  AuditEntry,
  ComputerQuery,
  ComputerState,
  OperatorRecord,
  OperatorRole,
} from "./store.ts";
import type { Row } from "./_rows.ts";

/** Largest page the store answers. */
export const MAX_COMPUTER_PAGE = 500;

/** A bound value. */
export type Bind = string | number | null | Uint8Array;

/** Computers that still report: not revoked, replaced or removed. */
export const ACTIVE_SQL = "revoked_at IS NULL AND replaced_by IS NULL AND removed_at IS NULL";

/** The WHERE clause of each state; `held` takes the time encryption became unavailable. */
export const STATE_SQL: Record<ComputerState, string> = {
  active: ACTIVE_SQL,
  held: `${ACTIVE_SQL} AND encryption_level = 'required' AND
    (last_report_at IS NULL OR last_report_at < :heldSince)`,
  revoked: "revoked_at IS NOT NULL",
  replaced: "replaced_by IS NOT NULL",
  duplicate: "duplicate_of IS NOT NULL AND removed_at IS NULL",
  flagged: "flagged IS NOT NULL AND removed_at IS NULL",
  removed: "removed_at IS NOT NULL",
};

/** The column each sort orders by. */
export const SORT_SQL: Record<ComputerQuery["sort"], string> = {
  id: "id",
  hostname: "hostname",
  lastReport: "last_report_at",
  registered: "registered_at",
};

/** What differs between the backends' SQL here. */
export interface ConsoleDialect {
  /** The case-insensitive LIKE: SQLite's `LIKE` (for ASCII), PostgreSQL's `ILIKE`. */
  like: string;
}

/** The WHERE clause of a computer query (empty when nothing filters) and its named parameters. */
export function computerQueryWhere(
  query: ComputerQuery,
  dialect: ConsoleDialect,
): { clause: string; params: Record<string, Bind> } {
  const { like } = dialect;
  const where: string[] = [];
  const params: Record<string, Bind> = {};
  const search = query.search?.trim() ?? "";
  if (search !== "") {
    params.like = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const byId = searchedId(query) === null ? "" : "id = :id OR ";
    if (byId) params.id = searchedId(query);
    // search_text holds the property values of the computer's last report (reportSearchText),
    // written with last_report_at: one short column per computer, never the reports.
    where.push(
      `(${byId}hostname ${like} :like ESCAPE '\\' OR search_text ${like} :like ESCAPE '\\')`,
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
      if (query.heldSince === null) where.push("1 = 0");
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
  return { clause: where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`, params };
}

/** The id a search names: a search of digits only, else null. */
function searchedId(query: ComputerQuery): number | null {
  const search = query.search?.trim() ?? "";
  return /^\d{1,15}$/.test(search) ? Number(search) : null;
}

/** The ORDER BY of a computer query: a search of digits puts the computer of that id first. */
export function computerQueryOrder(query: ComputerQuery): string {
  const direction = query.descending ? "DESC" : "ASC";
  const idFirst = searchedId(query) === null ? "" : "CASE WHEN id = :id THEN 0 ELSE 1 END, ";
  return `ORDER BY ${idFirst}${SORT_SQL[query.sort]} ${direction} NULLS LAST, id ${direction}`;
}

/** The overview's per-state sums (`held` is 0 while encryption is available). */
export function stateSumsSql(heldSince: number | null): string {
  return (Object.keys(STATE_SQL) as ComputerState[]).map((state) =>
    state === "held" && heldSince === null
      ? "0 AS held"
      : `sum(CASE WHEN ${STATE_SQL[state]} THEN 1 ELSE 0 END) AS ${state}`
  ).join(", ");
}

/** Active computers grouped by level. */
export const BY_LEVEL_SQL = `SELECT coalesce(encryption_level, 'unknown') AS k, count(*) AS n
  FROM computers WHERE ${ACTIVE_SQL} GROUP BY k ORDER BY n DESC`;

/** Active computers grouped by the key of their last report. */
export const BY_KID_SQL = `SELECT coalesce(last_kid, CASE WHEN last_report_at IS NULL THEN 'none'
  ELSE 'clear' END) AS k, count(*) AS n FROM computers WHERE ${ACTIVE_SQL} GROUP BY k
  ORDER BY n DESC`;

/** Reports received per hour since `:since`. */
export const REPORTS_PER_HOUR_SQL = `SELECT (received_at / 3600000) * 3600000 AS hour,
  count(*) AS n FROM reports WHERE received_at >= :since GROUP BY hour ORDER BY hour`;

/** A page size within 1 and {@linkcode MAX_COMPUTER_PAGE}. */
export function clampLimit(limit: number): number {
  return Math.min(MAX_COMPUTER_PAGE, Math.max(1, Math.floor(limit)));
}

/** An `operators` row. */
export function toOperator(row: Row): OperatorRecord {
  return {
    name: String(row.name),
    role: String(row.role) as OperatorRole,
    passwordHash: String(row.password_hash),
    createdAt: Number(row.created_at),
  };
}

/** An `audit_log` row. */
export function toAuditEntry(row: Row): AuditEntry {
  return {
    at: Number(row.at),
    operator: String(row.operator),
    action: String(row.action),
    detail: String(row.detail),
  };
}

/** Counts by state from the overview's sums. */
export function countsByState(counts: Row): Record<ComputerState, number> {
  return Object.fromEntries(
    (Object.keys(STATE_SQL) as ComputerState[]).map((state) => [state, Number(counts[state] ?? 0)]),
  ) as Record<ComputerState, number>;
}

/**
 * Rewrites `:name` parameters as PostgreSQL's `$1, $2, …` and lists the values in that order.
 * Names only: `::` casts and text in quotes are never parameters in these queries.
 */
export function toNumberedParameters(
  sql: string,
  params: Record<string, Bind>,
): { text: string; values: Bind[] } {
  const values: Bind[] = [];
  const numbers = new Map<string, number>();
  const text = sql.replace(/(?<!:):([A-Za-z]\w*)/g, (_, name: string) => {
    if (!(name in params)) throw new RangeError(`No value for the parameter :${name}`);
    let number = numbers.get(name);
    if (number === undefined) {
      values.push(params[name]);
      number = values.length;
      numbers.set(name, number);
    }
    return `$${number}`;
  });
  return { text, values };
}
