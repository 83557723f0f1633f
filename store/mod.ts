/**
 * Storage shared by the server and the admin tool: SQLite in the data dir (the default) or a
 * PostgreSQL database shared by several servers.
 *
 * @module
 */

import { joinPath } from "../keystore/secure_file.ts";
import { pendingPostgresMigrations, type PostgresLocation } from "./_postgres_database.ts";
import { SqliteDatabase } from "./_sqlite_database.ts";
import type { Migration } from "./migrations.ts";
import { PostgresStore } from "./postgres_store.ts";
import { PostgresUploadRecords } from "./postgres_upload_records.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { SqliteUploadRecords } from "./sqlite_upload_records.ts";
import type { Store } from "./store.ts";
import type { UploadRecords } from "./upload_records.ts";

export * from "./store.ts";
export * from "./server_records.ts";
export type { Migration } from "./migrations.ts";
export { StoreSchemaError } from "./migrations.ts";
export { type PostgresLocation, redactDatabaseUrl } from "./_postgres_database.ts";
export { SqliteStore } from "./sqlite_store.ts";

/** File name of the embedded database inside the server's data dir. */
export const DATABASE_FILE = "mle-server.db";

/**
 * Opens the store of a server data dir: the embedded SQLite database.
 *
 * @example
 * ```ts ignore
 * import { openStore } from "./mod.ts";
 * const store = openStore("/var/opt/mle-server");
 * ```
 */
export function openStore(dataDir: string): Store {
  return new SqliteStore(joinPath(dataDir, DATABASE_FILE));
}

/**
 * Opens the store: the PostgreSQL database when `database` names one (several servers may share
 * it), else the SQLite file of the data dir. Pending migrations are applied either way.
 *
 * @throws {StoreSchemaError} When the database was migrated by a newer version.
 */
export async function openStoreAt(
  dataDir: string,
  database: PostgresLocation | null,
  applicationName = "mle",
): Promise<Store> {
  if (database === null) return openStore(dataDir);
  return await PostgresStore.open(database, { applicationName });
}

/** Opens the upload records beside the store {@linkcode openStoreAt} opens. */
export async function openUploadRecordsAt(
  dataDir: string,
  database: PostgresLocation | null,
): Promise<UploadRecords> {
  if (database === null) return new SqliteUploadRecords(joinPath(dataDir, DATABASE_FILE));
  return await PostgresUploadRecords.open(database);
}

/** The migrations the store still lacks, without applying them (`mle-admin db migrate`). */
export async function pendingMigrationsAt(
  dataDir: string,
  database: PostgresLocation | null,
): Promise<Migration[]> {
  if (database === null) return SqliteDatabase.pendingAt(joinPath(dataDir, DATABASE_FILE));
  return await pendingPostgresMigrations(database);
}
