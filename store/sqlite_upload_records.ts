/**
 * Upload records in the server's SQLite database (its own connection, same file, WAL mode), in
 * the `uploads` table. A few writes per upload (recorded, then stored or failed) and one per
 * checkpoint (the bytes received, at most about once a second while chunks arrive): nothing per
 * chunk.
 *
 * @module
 */

import { SqliteDatabase } from "./_sqlite_database.ts";
import { sqliteRunner } from "./_sql_runner.ts";
import type { Row } from "./_rows.ts";
import {
  INSERT_UPLOAD_SQL,
  quotaRefusal,
  SqlUploadRecords,
  toUploadUsage,
  UPLOAD_EXISTS_SQL,
  UPLOAD_USAGE_SQL,
  uploadParams,
  usageParams,
} from "./_sql_upload_records.ts";
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
    return Promise.resolve(this.#db.transaction(() => this.#create(record, quotas)));
  }

  #create(record: UploadRecord, quotas: UploadQuotas): CreateUploadOutcome {
    const { computerId, uploadId } = record;
    if (this.#db.prepare(UPLOAD_EXISTS_SQL).get({ computerId, uploadId })) return "exists";
    const usage = this.#db.prepare(UPLOAD_USAGE_SQL).get(
      usageParams(computerId, quotas.activeSince),
    );
    const refusal = quotaRefusal(record.size, quotas, toUploadUsage(usage as Row));
    if (refusal) return refusal;
    this.#db.prepare(INSERT_UPLOAD_SQL).run(uploadParams(record));
    return "created";
  }

  close(): void {
    this.#db.close();
  }
}
