/**
 * One statement run on either backend, with named parameters (`:name`): SQLite binds them
 * itself, PostgreSQL gets them numbered (`toNumberedParameters`). What lets the SQL both backends
 * share (`_sql_store.ts`, `_console_sql.ts`) be written once.
 *
 * @module
 */

import { type Bind, toNumberedParameters } from "./_console_sql.ts";
import type { PostgresPool } from "./_postgres_database.ts";
import type { Row } from "./_rows.ts";
import type { SqliteDatabase } from "./_sqlite_database.ts";

/** Runs single statements on one backend's connection. */
export interface SqlRunner {
  /** The rows a statement gives. */
  all(sql: string, params?: Record<string, Bind>): Promise<Row[]>;
  /** Runs a statement; gives the number of rows it changed. */
  run(sql: string, params?: Record<string, Bind>): Promise<number>;
}

/** Statements on a SQLite connection (cached prepared statements). */
export function sqliteRunner(db: SqliteDatabase): SqlRunner {
  return {
    all: (sql, params = {}) => Promise.resolve(db.prepare(sql).all(params) as Row[]),
    run: (sql, params = {}) => Promise.resolve(Number(db.prepare(sql).run(params).changes)),
  };
}

/** Statements on a PostgreSQL pool. */
export function postgresRunner(pool: Pick<PostgresPool, "unsafe">): SqlRunner {
  return {
    all: async (sql, params = {}) => {
      const { text, values } = toNumberedParameters(sql, params);
      return [...await pool.unsafe(text, values)] as Row[];
    },
    run: async (sql, params = {}) => {
      const { text, values } = toNumberedParameters(sql, params);
      return (await pool.unsafe(text, values)).count;
    },
  };
}
