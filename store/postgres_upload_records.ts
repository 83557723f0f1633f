/**
 * Upload records in PostgreSQL (the `uploads` table, its own small pool), for servers sharing
 * one database. Recording an upload locks the table for the quota check and the insert, so two
 * servers cannot both admit uploads that only one of them fits; that is once per upload.
 *
 * @module
 */

import {
  openPostgresPool,
  type PostgresLocation,
  type PostgresPool,
} from "./_postgres_database.ts";
import { postgresRunner, runSqlSteps } from "./_sql_runner.ts";
import { recordUploadSteps, SqlUploadRecords } from "./_sql_upload_records.ts";
import type {
  CreateUploadOutcome,
  UploadQuotas,
  UploadRecord,
  UploadRecords,
} from "./upload_records.ts";

/**
 * Upload records in a PostgreSQL database.
 *
 * @example
 * ```ts ignore
 * import { PostgresUploadRecords } from "./postgres_upload_records.ts";
 * const records = await PostgresUploadRecords.open({ url: "postgres://mle@db.example/mle" });
 * console.log((await records.listUploads()).length);
 * records.close();
 * ```
 */
export class PostgresUploadRecords extends SqlUploadRecords implements UploadRecords {
  readonly #sql: PostgresPool;

  private constructor(sql: PostgresPool) {
    super(postgresRunner(sql));
    this.#sql = sql;
  }

  /**
   * Connects and applies pending migrations.
   *
   * @throws {StoreSchemaError} When the database was migrated by a newer version.
   */
  static async open(location: PostgresLocation): Promise<PostgresUploadRecords> {
    return new PostgresUploadRecords(
      await openPostgresPool(location, { max: 2, applicationName: "mle-uploads" }),
    );
  }

  async createUpload(record: UploadRecord, quotas: UploadQuotas): Promise<CreateUploadOutcome> {
    return await this.#sql.begin(async (tx) => {
      await tx.unsafe("LOCK TABLE uploads IN SHARE ROW EXCLUSIVE MODE");
      return await runSqlSteps(postgresRunner(tx), recordUploadSteps(record, quotas));
    });
  }

  /** Closes the pool, letting queries in flight finish (at most 5 seconds). */
  close(): void {
    this.#sql.end({ timeout: 5 }).catch(() => {});
  }
}
