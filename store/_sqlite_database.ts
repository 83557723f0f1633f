/**
 * One SQLite connection as every store of this project opens it: WAL, so the admin tool and the
 * server can use the file at once; `synchronous=FULL`, so an acknowledged write survives a power
 * cut; a busy timeout; cached prepared statements; `BEGIN IMMEDIATE` transactions; and the
 * schema brought up to date (`schema_migrations.ts`) before anything else.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type Migration, MIGRATIONS_TABLE, pendingMigrations } from "./migrations.ts";
import { adoptedVersion, SQLITE_MIGRATIONS } from "./schema_migrations.ts";

type Row = Record<string, unknown>;

/** A configured connection. */
export class SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  /**
   * Opens (creating if needed) the database at `path` and applies the pending migrations.
   *
   * @throws {StoreSchemaError} When the file was migrated by a newer version.
   */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA busy_timeout = 10000");
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = FULL");
    this.#db.exec("PRAGMA foreign_keys = ON");
    try {
      this.#migrate();
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /** The migrations this file still lacks (for `mle-admin db migrate --dry-run`), read-only. */
  static pendingAt(path: string): Migration[] {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      if (!hasTable(db, MIGRATIONS_TABLE)) {
        if (!hasTable(db, "computers") && !hasTable(db, "uploads")) return [...SQLITE_MIGRATIONS];
        return pendingMigrations(SQLITE_MIGRATIONS, adoptedVersion(computerColumns(db)));
      }
      return pendingMigrations(SQLITE_MIGRATIONS, appliedVersion(db));
    } finally {
      db.close();
    }
  }

  /**
   * Applies the pending migrations in one `BEGIN IMMEDIATE` transaction: the write lock is taken
   * before the version is read, so of two processes opening a new file at once one migrates and
   * the other then finds nothing to do.
   */
  #migrate(): void {
    // Most opens find the schema current: read without taking the write lock first.
    if (hasTable(this.#db, MIGRATIONS_TABLE)) {
      if (pendingMigrations(SQLITE_MIGRATIONS, appliedVersion(this.#db)).length === 0) return;
    }
    this.transaction(() => {
      let applied: number;
      if (hasTable(this.#db, MIGRATIONS_TABLE)) {
        applied = appliedVersion(this.#db);
      } else {
        this.#db.exec(
          `CREATE TABLE ${MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
             applied_at INTEGER NOT NULL)`,
        );
        applied = 0;
        if (hasTable(this.#db, "computers") || hasTable(this.#db, "uploads")) {
          // A file made before migrations were numbered: adopt it at the version it is at.
          this.#db.exec(SQLITE_MIGRATIONS[0].sql);
          applied = adoptedVersion(computerColumns(this.#db));
          for (const migration of SQLITE_MIGRATIONS.slice(0, applied)) this.#record(migration);
        }
      }
      for (const migration of pendingMigrations(SQLITE_MIGRATIONS, applied)) {
        this.#db.exec(migration.sql);
        this.#record(migration);
      }
    });
  }

  #record(migration: Migration): void {
    this.#db.prepare(
      `INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)`,
    ).run(migration.version, migration.name, Date.now());
  }

  /** The schema version of this file. */
  get schemaVersion(): number {
    return appliedVersion(this.#db);
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

function hasTable(db: DatabaseSync, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
    undefined;
}

function appliedVersion(db: DatabaseSync): number {
  const row = db.prepare(`SELECT coalesce(max(version), 0) AS v FROM ${MIGRATIONS_TABLE}`)
    .get() as Row;
  return Number(row.v);
}

function computerColumns(db: DatabaseSync): string[] {
  return db.prepare("SELECT name FROM pragma_table_info('computers')").all()
    .map((row) => String((row as Row).name));
}
