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

/** A statement and its named parameters. */
export interface SqlStatement {
  sql: string;
  params: Record<string, Bind>;
}

/**
 * The statements of one transaction written once for both backends: each statement is yielded,
 * its rows come back, and the transaction's result is returned. SQLite runs them synchronously
 * inside its transaction ({@linkcode runSqliteSteps}), PostgreSQL awaits each
 * ({@linkcode runSqlSteps}).
 */
export type SqlSteps<T> = Generator<SqlStatement, T, Row[]>;

/** Runs steps on a SQLite connection, synchronously (call it inside `db.transaction`). */
export function runSqliteSteps<T>(db: SqliteDatabase, steps: SqlSteps<T>): T {
  let step = steps.next([]);
  while (!step.done) {
    step = steps.next(db.prepare(step.value.sql).all(step.value.params) as Row[]);
  }
  return step.value;
}

/** Runs steps over a runner (a PostgreSQL transaction's), one statement at a time. */
export async function runSqlSteps<T>(sql: SqlRunner, steps: SqlSteps<T>): Promise<T> {
  let step = steps.next([]);
  while (!step.done) step = steps.next(await sql.all(step.value.sql, step.value.params));
  return step.value;
}
