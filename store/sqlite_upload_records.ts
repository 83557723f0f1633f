/**
 * Upload records in the server's SQLite database (its own connection, same file, WAL mode), in
 * the `uploads` table. A few writes per upload (recorded, then stored or failed) and one per
 * checkpoint (the bytes received, at most about once a second while chunks arrive): nothing per
 * chunk.
 *
 * @module
 */

import { SqliteDatabase } from "./_sqlite_database.ts";
import { type Row, toUpload } from "./_rows.ts";
import type {
  CreateUploadOutcome,
  UploadChange,
  UploadQuotas,
  UploadRecord,
  UploadRecords,
  UploadRecordState,
  UploadUsage,
} from "./upload_records.ts";

/**
 * Bytes counted against quotas: stored files their size, uploads in progress that are not stale
 * the bytes received (never the size they declared).
 */
const USAGE = `SELECT coalesce(sum(CASE WHEN state = 'receiving' THEN received_bytes ELSE size END),
    0) AS bytes FROM uploads
  WHERE (state IN ('complete', 'finalizing') OR (state = 'receiving' AND updated_at >= ?))`;

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
export class SqliteUploadRecords implements UploadRecords {
  readonly #db: SqliteDatabase;

  constructor(path: string) {
    this.#db = new SqliteDatabase(path);
  }

  createUpload(record: UploadRecord, quotas: UploadQuotas): Promise<CreateUploadOutcome> {
    return Promise.resolve(this.#db.transaction(() => this.#create(record, quotas)));
  }

  #create(record: UploadRecord, quotas: UploadQuotas): CreateUploadOutcome {
    const existing = this.#db.prepare(
      "SELECT 1 FROM uploads WHERE computer_id = ? AND upload_id = ?",
    ).get(record.computerId, record.uploadId);
    if (existing) return "exists";
    if ((quotas.inProgressPerComputer ?? 0) > 0) {
      const row = this.#db.prepare(
        `SELECT count(*) AS n FROM uploads
         WHERE computer_id = ? AND state = 'receiving' AND updated_at >= ?`,
      ).get(record.computerId, quotas.activeSince) as Row;
      if (Number(row.n) >= quotas.inProgressPerComputer!) return "too-many-in-progress";
    }
    if (quotas.perComputerBytes > 0) {
      const row = this.#db.prepare(`${USAGE} AND computer_id = ?`)
        .get(quotas.activeSince, record.computerId) as Row;
      if (Number(row.bytes) + record.size > quotas.perComputerBytes) return "computer-quota";
    }
    if (quotas.totalBytes > 0) {
      const row = this.#db.prepare(USAGE).get(quotas.activeSince) as Row;
      if (Number(row.bytes) + record.size > quotas.totalBytes) return "total-quota";
    }
    this.#db.prepare(
      `INSERT INTO uploads (computer_id, upload_id, declared_name, stored_name, size,
         received_bytes, sha256, chunk_size, chunk_count, encrypted, kid, manifest_digest, state,
         error, created_at, updated_at, completed_at, server)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.computerId,
      record.uploadId,
      record.declaredName,
      record.storedName,
      record.size,
      record.receivedBytes,
      record.sha256,
      record.chunkSize,
      record.chunkCount,
      record.encrypted ? 1 : 0,
      record.kid,
      record.manifestDigest,
      record.state,
      record.error,
      record.createdAt,
      record.updatedAt,
      record.completedAt,
      record.server,
    );
    return "created";
  }

  usage(computerId: number, activeSince: number): Promise<UploadUsage> {
    const computer = this.#db.prepare(`${USAGE} AND computer_id = ?`)
      .get(activeSince, computerId) as Row;
    const total = this.#db.prepare(USAGE).get(activeSince) as Row;
    const inProgress = this.#db.prepare(
      `SELECT count(*) AS n FROM uploads
       WHERE computer_id = ? AND state = 'receiving' AND updated_at >= ?`,
    ).get(computerId, activeSince) as Row;
    return Promise.resolve({
      computerBytes: Number(computer.bytes),
      totalBytes: Number(total.bytes),
      inProgress: Number(inProgress.n),
    });
  }

  getUpload(computerId: number, uploadId: string): Promise<UploadRecord | null> {
    const row = this.#db.prepare("SELECT * FROM uploads WHERE computer_id = ? AND upload_id = ?")
      .get(computerId, uploadId) as Row | undefined;
    return Promise.resolve(row ? toUpload(row) : null);
  }

  updateUpload(computerId: number, uploadId: string, change: UploadChange): Promise<void> {
    const columns: Record<keyof UploadChange, string> = {
      state: "state",
      storedName: "stored_name",
      error: "error",
      completedAt: "completed_at",
      updatedAt: "updated_at",
      receivedBytes: "received_bytes",
    };
    const names = (Object.keys(change) as Array<keyof UploadChange>).filter((name) =>
      change[name] !== undefined
    );
    if (names.length === 0) return Promise.resolve();
    const sql = `UPDATE uploads SET ${
      names.map((name) => `${columns[name]} = ?`).join(", ")
    } WHERE computer_id = ? AND upload_id = ?`;
    this.#db.prepare(sql).run(...names.map((name) => change[name] ?? null), computerId, uploadId);
    return Promise.resolve();
  }

  takeOverUpload(
    computerId: number,
    uploadId: string,
    server: string,
    now: number,
  ): Promise<boolean> {
    const result = this.#db.prepare(
      `UPDATE uploads SET server = ?, updated_at = ?
       WHERE computer_id = ? AND upload_id = ? AND state = 'receiving'`,
    ).run(server, now, computerId, uploadId);
    return Promise.resolve(Number(result.changes) === 1);
  }

  listUploads(computerId?: number): Promise<UploadRecord[]> {
    const rows =
      (computerId === undefined
        ? this.#db.prepare("SELECT * FROM uploads ORDER BY created_at, computer_id, upload_id")
          .all()
        : this.#db.prepare(
          "SELECT * FROM uploads WHERE computer_id = ? ORDER BY created_at, upload_id",
        ).all(computerId)) as Row[];
    return Promise.resolve(rows.map(toUpload));
  }

  listUploadsIn(state: UploadRecordState): Promise<UploadRecord[]> {
    const rows = this.#db.prepare("SELECT * FROM uploads WHERE state = ? ORDER BY created_at")
      .all(state) as Row[];
    return Promise.resolve(rows.map(toUpload));
  }

  close(): void {
    this.#db.close();
  }
}
