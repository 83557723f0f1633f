/**
 * The part of `UploadRecords` whose SQL is the same in SQLite and PostgreSQL, written once over a
 * {@linkcode SqlRunner}; `sqlite_upload_records.ts` and `postgres_upload_records.ts` extend it
 * with recording an upload, which each runs in its own kind of transaction, the steps written
 * once here ({@linkcode recordUploadSteps}).
 *
 * @module
 */

import type { Bind } from "./_console_sql.ts";
import { type Row, toUpload } from "./_rows.ts";
import type { SqlRunner, SqlSteps } from "./_sql_runner.ts";
import type {
  CreateUploadOutcome,
  UploadChange,
  UploadQuotas,
  UploadRecord,
  UploadRecordState,
  UploadUsage,
} from "./upload_records.ts";

/**
 * Bytes counted against quotas: stored files their size, uploads in progress that are not stale
 * the bytes received (never the size they declared).
 */
const COUNTED_BYTES = `SELECT coalesce(sum(CASE WHEN state = 'receiving' THEN received_bytes
    ELSE size END), 0) FROM uploads
  WHERE (state IN ('complete', 'finalizing') OR (state = 'receiving' AND updated_at >= :activeSince))`;

/** A computer's bytes, everyone's, and the computer's uploads in progress, in one row. */
const UPLOAD_USAGE_SQL = `SELECT
  (${COUNTED_BYTES} AND computer_id = :computerId) AS computer_bytes,
  (${COUNTED_BYTES}) AS total_bytes,
  (SELECT count(*) FROM uploads WHERE computer_id = :computerId AND state = 'receiving'
    AND updated_at >= :activeSince) AS in_progress`;

/** Whether an upload is recorded. */
const UPLOAD_EXISTS_SQL =
  "SELECT 1 AS yes FROM uploads WHERE computer_id = :computerId AND upload_id = :uploadId";

/** Records an upload. */
const INSERT_UPLOAD_SQL = `INSERT INTO uploads (computer_id, upload_id, declared_name,
    stored_name, size, received_bytes, sha256, chunk_size, chunk_count, encrypted, kid,
    manifest_digest, state, error, created_at, updated_at, completed_at, server)
  VALUES (:computerId, :uploadId, :declaredName, :storedName, :size, :receivedBytes, :sha256,
    :chunkSize, :chunkCount, :encrypted, :kid, :manifestDigest, :state, :error, :createdAt,
    :updatedAt, :completedAt, :server)`;

const COLUMNS: Record<keyof UploadChange, string> = {
  state: "state",
  storedName: "stored_name",
  error: "error",
  completedAt: "completed_at",
  updatedAt: "updated_at",
  receivedBytes: "received_bytes",
};

/** The parameters of {@linkcode INSERT_UPLOAD_SQL}. */
function uploadParams(record: UploadRecord): Record<string, Bind> {
  return { ...record, encrypted: record.encrypted ? 1 : 0 };
}

/** The parameters of {@linkcode UPLOAD_USAGE_SQL}. */
function usageParams(computerId: number, activeSince: number): Record<string, Bind> {
  return { computerId, activeSince };
}

/** The row of {@linkcode UPLOAD_USAGE_SQL} as usage. */
function toUploadUsage(row: Row): UploadUsage {
  return {
    computerBytes: Number(row.computer_bytes),
    totalBytes: Number(row.total_bytes),
    inProgress: Number(row.in_progress),
  };
}

/**
 * Recording an upload, in the transaction that also holds the quota check: "exists" when it is
 * recorded already, a refusal when it does not fit beside what is stored and in progress, else
 * "created" once inserted.
 */
export function* recordUploadSteps(
  record: UploadRecord,
  quotas: UploadQuotas,
): SqlSteps<CreateUploadOutcome> {
  const { computerId, uploadId } = record;
  if ((yield { sql: UPLOAD_EXISTS_SQL, params: { computerId, uploadId } }).length > 0) {
    return "exists";
  }
  const [usage] = yield {
    sql: UPLOAD_USAGE_SQL,
    params: usageParams(computerId, quotas.activeSince),
  };
  const refusal = quotaRefusal(record.size, quotas, toUploadUsage(usage));
  if (refusal) return refusal;
  yield { sql: INSERT_UPLOAD_SQL, params: uploadParams(record) };
  return "created";
}

/** Why a new upload of `size` bytes does not fit beside `usage`, or null when it fits. */
function quotaRefusal(
  size: number,
  quotas: UploadQuotas,
  usage: UploadUsage,
): Exclude<CreateUploadOutcome, "created" | "exists"> | null {
  const inProgressLimit = quotas.inProgressPerComputer ?? 0;
  if (inProgressLimit > 0 && usage.inProgress >= inProgressLimit) return "too-many-in-progress";
  if (quotas.perComputerBytes > 0 && usage.computerBytes + size > quotas.perComputerBytes) {
    return "computer-quota";
  }
  if (quotas.totalBytes > 0 && usage.totalBytes + size > quotas.totalBytes) return "total-quota";
  return null;
}

/** Upload records on either backend, but for recording one (each backend's transaction). */
export abstract class SqlUploadRecords {
  readonly #sql: SqlRunner;

  constructor(sql: SqlRunner) {
    this.#sql = sql;
  }

  async usage(computerId: number, activeSince: number): Promise<UploadUsage> {
    const [row] = await this.#sql.all(UPLOAD_USAGE_SQL, usageParams(computerId, activeSince));
    return toUploadUsage(row);
  }

  async getUpload(computerId: number, uploadId: string): Promise<UploadRecord | null> {
    const [row] = await this.#sql.all(
      "SELECT * FROM uploads WHERE computer_id = :computerId AND upload_id = :uploadId",
      { computerId, uploadId },
    );
    return row ? toUpload(row) : null;
  }

  async updateUpload(computerId: number, uploadId: string, change: UploadChange): Promise<void> {
    const names = (Object.keys(change) as Array<keyof UploadChange>).filter((name) =>
      change[name] !== undefined && name in COLUMNS
    );
    if (names.length === 0) return;
    const assignments = names.map((name) => `${COLUMNS[name]} = :${name}`).join(", ");
    const params: Record<string, Bind> = { computerId, uploadId };
    for (const name of names) params[name] = change[name] ?? null;
    await this.#sql.run(
      `UPDATE uploads SET ${assignments} WHERE computer_id = :computerId AND upload_id = :uploadId`,
      params,
    );
  }

  async takeOverUpload(
    computerId: number,
    uploadId: string,
    server: string,
    now: number,
  ): Promise<boolean> {
    return await this.#sql.run(
      `UPDATE uploads SET server = :server, updated_at = :now
       WHERE computer_id = :computerId AND upload_id = :uploadId AND state = 'receiving'`,
      { computerId, uploadId, server, now },
    ) === 1;
  }

  async listUploads(computerId?: number): Promise<UploadRecord[]> {
    const rows = computerId === undefined
      ? await this.#sql.all("SELECT * FROM uploads ORDER BY created_at, computer_id, upload_id")
      : await this.#sql.all(
        "SELECT * FROM uploads WHERE computer_id = :computerId ORDER BY created_at, upload_id",
        { computerId },
      );
    return rows.map(toUpload);
  }

  async listUploadsIn(state: UploadRecordState): Promise<UploadRecord[]> {
    return (await this.#sql.all(
      "SELECT * FROM uploads WHERE state = :state ORDER BY created_at",
      { state },
    )).map(toUpload);
  }
}
