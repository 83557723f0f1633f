/**
 * One PostgreSQL connection pool as every store of this project opens it (`postgres`, the npm
 * client): the URL names host, port, database and user; the password comes from
 * `PGPASSWORD` or a file (never from the command line), the schema is brought up to date
 * (`schema_migrations.ts`) before anything else, under an advisory lock so that servers
 * starting at once do not race, and a database newer than the code is refused.
 *
 * @module
 */

import postgres from "postgres";
import { type Migration, MIGRATIONS_TABLE, pendingMigrations } from "./migrations.ts";
import { POSTGRES_MIGRATIONS } from "./schema_migrations.ts";

/** A pool of connections to one database. */
export type PostgresPool = postgres.Sql;

/** Where a PostgreSQL store is. */
export interface PostgresLocation {
  /** `postgres://user@host:port/database` (a password in it works, but shows in `ps`). */
  url: string;
  /** The password, when not in `PGPASSWORD` (e.g. read from `--database-password-file`). */
  password?: string;
}

/** Key of the advisory lock held while migrating (any fixed number; "MLE" in ASCII, 1). */
const MIGRATION_LOCK = 0x4d4c4501;

/** The URL with any password replaced, for messages and logs. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "REDACTED";
    return parsed.toString();
  } catch {
    return "(a database URL that cannot be parsed)";
  }
}

/** True for the URLs a PostgreSQL store takes. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Opens a pool, checks that the database answers and brings its schema up to date.
 *
 * @throws {StoreSchemaError} When the database was migrated by a newer version.
 * @throws {Error} When the database cannot be reached or refuses the login: the message names
 * the URL (password redacted) and the server's reason, never the password.
 */
export async function openPostgresPool(
  location: PostgresLocation,
  options: { max: number; applicationName: string },
): Promise<PostgresPool> {
  if (!isPostgresUrl(location.url)) {
    throw new RangeError(
      `Cannot use database "${
        redactDatabaseUrl(location.url)
      }": expected postgres://USER@HOST:PORT/DATABASE`,
    );
  }
  const sql = postgres(location.url, {
    max: options.max,
    ...(location.password === undefined ? {} : { password: location.password }),
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName },
  });
  try {
    await migrate(sql);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    if (error instanceof Error && error.name !== "StoreSchemaError") {
      throw new Error(
        `Cannot open database "${redactDatabaseUrl(location.url)}": ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
  return sql;
}

async function appliedVersion(sql: postgres.Sql | postgres.TransactionSql): Promise<number> {
  const [exists] = await sql`SELECT to_regclass(${MIGRATIONS_TABLE}) IS NOT NULL AS present`;
  if (!exists.present) return 0;
  const [row] = await sql.unsafe(`SELECT coalesce(max(version), 0) AS v FROM ${MIGRATIONS_TABLE}`);
  return Number(row.v);
}

/**
 * Applies the pending migrations in one transaction holding the advisory lock: of two servers
 * starting at once, one migrates while the other waits, then finds nothing to do.
 */
async function migrate(sql: PostgresPool): Promise<void> {
  // Most opens find the schema current: read without taking the lock first.
  if (pendingMigrations(POSTGRES_MIGRATIONS, await appliedVersion(sql)).length === 0) return;
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx.unsafe(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version integer PRIMARY KEY,
         name text NOT NULL, applied_at bigint NOT NULL)`,
    );
    for (const migration of pendingMigrations(POSTGRES_MIGRATIONS, await appliedVersion(tx))) {
      await tx.unsafe(migration.sql).simple();
      await tx.unsafe(
        `INSERT INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES ($1, $2, $3)`,
        [migration.version, migration.name, Date.now()],
      );
    }
  });
}

/**
 * The migrations a database still lacks, without changing it (for `mle-admin db migrate
 * --dry-run`).
 *
 * @throws {StoreSchemaError} When the database is newer than this code.
 */
export async function pendingPostgresMigrations(location: PostgresLocation): Promise<Migration[]> {
  const sql = postgres(location.url, {
    max: 1,
    ...(location.password === undefined ? {} : { password: location.password }),
    connect_timeout: 10,
    onnotice: () => {},
  });
  try {
    return pendingMigrations(POSTGRES_MIGRATIONS, await appliedVersion(sql));
  } catch (error) {
    if (error instanceof Error && error.name !== "StoreSchemaError") {
      throw new Error(
        `Cannot open database "${redactDatabaseUrl(location.url)}": ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    await sql.end({ timeout: 0 });
  }
}
