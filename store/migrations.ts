/**
 * Versioned schema migrations, shared by both backends: one numbered list of steps, each with
 * its SQL in both dialects (`schema_migrations.ts`); each backend records in the
 * `schema_migrations` table which ones it applied. A store applies the pending ones when it opens,
 * in one transaction under a lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock), so
 * two servers starting at once do not race; a database newer than the code is refused.
 *
 * Numbers match across backends: migration N does the same change in both.
 *
 * @module
 */

/** One step of a backend's schema. */
export interface Migration {
  /** 1, 2, 3…, without gaps. */
  version: number;
  /** What it changes, for `mle-admin db migrate --dry-run`. */
  name: string;
  /** The statements, in this backend's dialect. */
  sql: string;
}

/** The table recording the applied migrations (the same in both backends). */
export const MIGRATIONS_TABLE = "schema_migrations";

/** Stable codes of {@linkcode StoreSchemaError}. */
export type StoreSchemaErrorCode = "ERR_DATABASE_TOO_NEW";

/**
 * The database was migrated by a newer version of this software: opening it with this one could
 * misread or damage what the newer one wrote.
 */
export class StoreSchemaError extends Error {
  /** Stable machine-readable code. */
  readonly code: StoreSchemaErrorCode;

  /** Creates the error for a database at `found` when this code knows up to `known`. */
  constructor(found: number, known: number) {
    super(
      `Cannot use the database: its schema is version ${found}, newer than this software ` +
        `knows (${known}); upgrade mle-server and mle-admin on this host to the version that ` +
        "migrated it",
    );
    this.name = "StoreSchemaError";
    this.code = "ERR_DATABASE_TOO_NEW";
  }
}

/**
 * The migrations of `migrations` newer than `applied`, in order.
 *
 * @throws {StoreSchemaError} When `applied` is newer than the last one known.
 * @example
 * ```ts
 * import { pendingMigrations } from "./migrations.ts";
 * const list = [{ version: 1, name: "a", sql: "" }, { version: 2, name: "b", sql: "" }];
 * console.log(pendingMigrations(list, 1).map((m) => m.version)); // [2]
 * ```
 */
export function pendingMigrations(
  migrations: readonly Migration[],
  applied: number,
): Migration[] {
  const latest = latestVersion(migrations);
  if (applied > latest) throw new StoreSchemaError(applied, latest);
  return migrations.filter((migration) => migration.version > applied);
}

/** The version the last migration of a list brings a database to. */
export function latestVersion(migrations: readonly Migration[]): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
}
