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
import { toUpload } from "./_rows.ts";
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
  WHERE (state IN ('complete', 'finalizing') OR (state = 'receiving' AND updated_at >= $1))`;

const COLUMNS: Record<keyof UploadChange, string> = {
  state: "state",
  storedName: "stored_name",
  error: "error",
  completedAt: "completed_at",
  updatedAt: "updated_at",
  receivedBytes: "received_bytes",
};

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
export class PostgresUploadRecords implements UploadRecords {
  readonly #sql: PostgresPool;

  private constructor(sql: PostgresPool) {
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
      await tx`LOCK TABLE uploads IN SHARE ROW EXCLUSIVE MODE`;
      const existing = await tx`
        SELECT 1 FROM uploads WHERE computer_id = ${record.computerId}
        AND upload_id = ${record.uploadId}`;
      if (existing.length > 0) return "exists";
      if ((quotas.inProgressPerComputer ?? 0) > 0) {
        const [row] = await tx`
          SELECT count(*) AS n FROM uploads WHERE computer_id = ${record.computerId}
          AND state = 'receiving' AND updated_at >= ${quotas.activeSince}`;
        if (Number(row.n) >= quotas.inProgressPerComputer!) return "too-many-in-progress";
      }
      if (quotas.perComputerBytes > 0) {
        const [row] = await tx.unsafe(`${USAGE} AND computer_id = $2`, [
          quotas.activeSince,
          record.computerId,
        ]);
        if (Number(row.bytes) + record.size > quotas.perComputerBytes) return "computer-quota";
      }
      if (quotas.totalBytes > 0) {
        const [row] = await tx.unsafe(USAGE, [quotas.activeSince]);
        if (Number(row.bytes) + record.size > quotas.totalBytes) return "total-quota";
      }
      await tx`
        INSERT INTO uploads (computer_id, upload_id, declared_name, stored_name, size,
          received_bytes, sha256, chunk_size, chunk_count, encrypted, kid, manifest_digest, state,
          error, created_at, updated_at, completed_at, server)
        VALUES (${record.computerId}, ${record.uploadId}, ${record.declaredName},
          ${record.storedName}, ${record.size}, ${record.receivedBytes}, ${record.sha256},
          ${record.chunkSize},
          ${record.chunkCount}, ${record.encrypted ? 1 : 0}, ${record.kid},
          ${record.manifestDigest}, ${record.state}, ${record.error}, ${record.createdAt},
          ${record.updatedAt}, ${record.completedAt}, ${record.server})`;
      return "created" as const;
    });
  }

  async usage(computerId: number, activeSince: number): Promise<UploadUsage> {
    const [computer] = await this.#sql.unsafe(`${USAGE} AND computer_id = $2`, [
      activeSince,
      computerId,
    ]);
    const [total] = await this.#sql.unsafe(USAGE, [activeSince]);
    const [inProgress] = await this.#sql`
      SELECT count(*) AS n FROM uploads
      WHERE computer_id = ${computerId} AND state = 'receiving' AND updated_at >= ${activeSince}`;
    return {
      computerBytes: Number(computer.bytes),
      totalBytes: Number(total.bytes),
      inProgress: Number(inProgress.n),
    };
  }

  async getUpload(computerId: number, uploadId: string): Promise<UploadRecord | null> {
    const [row] = await this.#sql`
      SELECT * FROM uploads WHERE computer_id = ${computerId} AND upload_id = ${uploadId}`;
    return row ? toUpload(row) : null;
  }

  async updateUpload(computerId: number, uploadId: string, change: UploadChange): Promise<void> {
    const names = (Object.keys(change) as Array<keyof UploadChange>).filter((name) =>
      change[name] !== undefined && name in COLUMNS
    );
    if (names.length === 0) return;
    const assignments = names.map((name, i) => `${COLUMNS[name]} = $${i + 1}`).join(", ");
    await this.#sql.unsafe(
      `UPDATE uploads SET ${assignments} WHERE computer_id = $${names.length + 1}
       AND upload_id = $${names.length + 2}`,
      [...names.map((name) => change[name] ?? null), computerId, uploadId] as never[],
    );
  }

  async takeOverUpload(
    computerId: number,
    uploadId: string,
    server: string,
    now: number,
  ): Promise<boolean> {
    const result = await this.#sql`
      UPDATE uploads SET server = ${server}, updated_at = ${now}
      WHERE computer_id = ${computerId} AND upload_id = ${uploadId} AND state = 'receiving'`;
    return result.count === 1;
  }

  async listUploads(computerId?: number): Promise<UploadRecord[]> {
    const rows = computerId === undefined
      ? await this.#sql`SELECT * FROM uploads ORDER BY created_at, computer_id, upload_id`
      : await this.#sql`
        SELECT * FROM uploads WHERE computer_id = ${computerId} ORDER BY created_at, upload_id`;
    return rows.map(toUpload);
  }

  async listUploadsIn(state: UploadRecordState): Promise<UploadRecord[]> {
    return (await this.#sql`SELECT * FROM uploads WHERE state = ${state} ORDER BY created_at`)
      .map(toUpload);
  }

  /** Closes the pool, letting queries in flight finish (at most 5 seconds). */
  close(): void {
    this.#sql.end({ timeout: 5 }).catch(() => {});
  }
}
