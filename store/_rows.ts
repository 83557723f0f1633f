/**
 * Rows of both backends turned into records: one place, so SQLite and PostgreSQL give the same
 * records. Both schemas use the same column names; integers may arrive as numbers or (PostgreSQL
 * `bigint`) as strings, flags as 0/1, binary as `Uint8Array` or `Buffer`.
 *
 * @module
 */

import type {
  ComputerRecord,
  EncryptionKeyRecord,
  ReportRecord,
  SealedContentKeyRecord,
  SettingsRecord,
} from "./store.ts";
import type { ServerRecord } from "./server_records.ts";
import type { UploadRecord, UploadRecordState } from "./upload_records.ts";

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** A `computers` row. */
export function toComputer(row: Row): ComputerRecord {
  return {
    id: Number(row.id),
    publicKey: String(row.public_key),
    hostIdentity: textOrNull(row.host_identity),
    hostname: textOrNull(row.hostname),
    registeredAt: Number(row.registered_at),
    lastReportAt: numberOrNull(row.last_report_at),
    lastKid: textOrNull(row.last_kid),
    encryptionLevel: textOrNull(row.encryption_level),
    revokedAt: numberOrNull(row.revoked_at),
    replacedBy: numberOrNull(row.replaced_by),
    handoverLastSeq: Number(row.handover_last_seq ?? 0),
    duplicateOf: numberOrNull(row.duplicate_of),
    flagged: textOrNull(row.flagged),
    removedAt: numberOrNull(row.removed_at),
    claimsToReplace: numberOrNull(row.claims_to_replace),
    claimSignedByOldKey: Number(row.claim_signed_by_old_key ?? 0) === 1,
  };
}

/** A `reports` row. */
export function toReport(row: Row): ReportRecord {
  return {
    computerId: Number(row.computer_id),
    seq: Number(row.seq),
    receivedAt: Number(row.received_at),
    encrypted: Number(row.encrypted) === 1,
    kid: textOrNull(row.kid),
    body: String(row.body),
  };
}

/** An `encryption_keys` row. */
export function toEncryptionKey(row: Row): EncryptionKeyRecord {
  return {
    kid: String(row.kid),
    spki: String(row.spki),
    bits: Number(row.bits),
    role: String(row.role) as EncryptionKeyRecord["role"],
    createdAt: Number(row.created_at),
    deployedAt: numberOrNull(row.deployed_at),
    retiredAt: numberOrNull(row.retired_at),
  };
}

/** A `settings` row. */
export function toSettings(row: Row): SettingsRecord {
  return {
    serial: Number(row.serial),
    computerId: numberOrNull(row.computer_id),
    document: String(row.document),
    createdAt: Number(row.created_at),
  };
}

/** A `sealed_content_keys` row (the sealed bytes copied into a fresh buffer). */
export function toSealedContentKey(row: Row): SealedContentKeyRecord {
  return {
    computerId: Number(row.computer_id),
    kid: String(row.kid),
    wrappedKeyHash: String(row.wrapped_key_hash),
    sealed: new Uint8Array(row.sealed as Uint8Array),
    createdAt: Number(row.created_at),
  };
}

/** An `uploads` row. */
export function toUpload(row: Row): UploadRecord {
  return {
    computerId: Number(row.computer_id),
    uploadId: String(row.upload_id),
    declaredName: String(row.declared_name),
    storedName: textOrNull(row.stored_name),
    size: Number(row.size),
    receivedBytes: Number(row.received_bytes ?? 0),
    sha256: String(row.sha256),
    chunkSize: Number(row.chunk_size),
    chunkCount: Number(row.chunk_count),
    encrypted: Number(row.encrypted) === 1,
    kid: textOrNull(row.kid),
    manifestDigest: String(row.manifest_digest),
    state: String(row.state) as UploadRecordState,
    error: textOrNull(row.error),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    completedAt: numberOrNull(row.completed_at),
    server: textOrNull(row.server),
  };
}

/** A `servers` row (key ids kept as one space-separated text). */
export function toServer(row: Row): ServerRecord {
  return {
    name: String(row.name),
    url: String(row.url),
    startedAt: Number(row.started_at),
    lastSeenAt: Number(row.last_seen_at),
    stoppedAt: numberOrNull(row.stopped_at),
    kids: String(row.kids).split(" ").filter((kid) => kid !== ""),
  };
}
