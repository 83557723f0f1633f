/**
 * One SQLite connection as every store of this project opens it: WAL, so the admin tool and the
 * server can use the file at once; `synchronous=FULL`, so an acknowledged write survives a power
 * cut; a busy timeout; cached prepared statements; and `BEGIN IMMEDIATE` transactions.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";

/** A configured connection. */
export class SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  /** Opens (creating if needed) the database at `path` and applies `schema`. */
  constructor(path: string, schema: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA busy_timeout = 10000");
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = FULL");
    this.#db.exec("PRAGMA foreign_keys = ON");
    this.#db.exec(schema);
  }

  /** A prepared statement, prepared once per connection. */
  prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** A statement of its own, for a query that is iterated (never shared with other callers). */
  prepareUncached(sql: string): StatementSync {
    return this.#db.prepare(sql);
  }

  /** Runs `work` in one write transaction: committed if it returns, rolled back if it throws. */
  transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      // SQLite rolls back by itself after some errors (a full disk: SQLITE_FULL), and then this
      // ROLLBACK fails with "no transaction is active": the cause the caller needs is `error`.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  close(): void {
    this.#db.close();
  }
}
