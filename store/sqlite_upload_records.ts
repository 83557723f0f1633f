/**
 * Upload records in the server's SQLite database (its own connection, same file, WAL mode), in
 * the `uploads` table. A few writes per upload (recorded, then stored or failed) and one per
 * checkpoint (the bytes received, at most about once a second while chunks arrive): nothing per
 * chunk.
 *
 * @module
 */

import { SqliteDatabase } from "./_sqlite_database.ts";
import { runSqliteSteps, sqliteRunner } from "./_sql_runner.ts";
import { recordUploadSteps, SqlUploadRecords } from "./_sql_upload_records.ts";
import type {
  CreateUploadOutcome,
  UploadQuotas,
  UploadRecord,
  UploadRecords,
} from "./upload_records.ts";

/**
 * Upload records in a SQLite file.
 *
 * @example
 * ```ts
 * import { SqliteUploadRecords } from "./sqlite_upload_records.ts";
 * const records = new SqliteUploadRecords(":memory:");
 * console.log((await records.listUploads()).length); // 0
 * records.close();
 * ```
 */
export class SqliteUploadRecords extends SqlUploadRecords implements UploadRecords {
  readonly #db: SqliteDatabase;

  constructor(path: string) {
    const db = new SqliteDatabase(path);
    super(sqliteRunner(db));
    this.#db = db;
  }

  createUpload(record: UploadRecord, quotas: UploadQuotas): Promise<CreateUploadOutcome> {
    return Promise.resolve(
      this.#db.transaction(() => runSqliteSteps(this.#db, recordUploadSteps(record, quotas))),
    );
  }

  close(): void {
    this.#db.close();
  }
}
