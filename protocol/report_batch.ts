/**
 * A report batch: many client envelopes, each exactly as its client sent it, in one request from a
 * relay to a parent that announces `acceptsReportBatches` (`POST /api/v1/reports/batch`).
 *
 * The envelopes travel as bytes, not as re-serialised JSON: each client's signature covers what it
 * sent, and the relay never opens, decrypts or rewrites it. The framing is binary and exact:
 *
 * ```text
 * "MLB1"                      4 bytes, the format and its version
 * count                       u32, big-endian, 1 to MAX_REPORT_BATCH_COUNT
 * count × (length, envelope)  u32 big-endian length (1 to MAX_REPORT_MESSAGE_BYTES), then the bytes
 * ```
 *
 * and nothing after the last envelope. The whole batch is at most `MAX_REPORT_BATCH_BYTES`.
 *
 * The answer is JSON, `{ "results": [{ "status": 200, "body": {…} }, …] }`: one result per
 * envelope, in order, each the status and body that `POST /api/v1/reports` would have answered for
 * that envelope alone, so a sender reads each one exactly as it reads a single answer.
 *
 * Pure: bytes in, bytes out.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import {
  MAX_REPORT_BATCH_BYTES,
  MAX_REPORT_BATCH_COUNT,
  MAX_REPORT_MESSAGE_BYTES,
} from "./limits.ts";

/** The media type of a report batch. */
export const REPORT_BATCH_CONTENT_TYPE = "application/vnd.mle.report-batch";

const MAGIC = [0x4d, 0x4c, 0x42, 0x31]; // "MLB1"
const HEADER_BYTES = 8;
const LENGTH_BYTES = 4;

/** What one envelope of a batch drew: the status and body its own request would have drawn. */
export interface ReportBatchResult {
  status: number;
  body: unknown;
}

/** The answer to a report batch. */
export interface ReportBatchAnswer {
  results: ReportBatchResult[];
}

/** The bytes a batch of `envelopes` takes, framing included. */
export function reportBatchSize(envelopeSizes: readonly number[]): number {
  return envelopeSizes.reduce((sum, size) => sum + batchEntrySize(size), HEADER_BYTES);
}

/** The bytes one envelope of `size` adds to a batch, its length prefix included. */
export function batchEntrySize(size: number): number {
  return LENGTH_BYTES + size;
}

/**
 * Frames envelopes into one batch.
 *
 * @throws {RangeError} When there are none, too many, one is empty or too large, or the batch
 * would pass its maximum size.
 *
 * @example
 * ```ts
 * import { decodeReportBatch, encodeReportBatch } from "./report_batch.ts";
 * const envelope = new TextEncoder().encode('{"protected":"…"}');
 * const batch = encodeReportBatch([envelope, envelope]);
 * console.log(decodeReportBatch(batch).length); // 2
 * ```
 */
export function encodeReportBatch(envelopes: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (envelopes.length < 1 || envelopes.length > MAX_REPORT_BATCH_COUNT) {
    throw new RangeError(
      `Cannot frame ${envelopes.length} envelopes: expected 1 to ${MAX_REPORT_BATCH_COUNT}`,
    );
  }
  for (const envelope of envelopes) {
    if (envelope.length < 1 || envelope.length > MAX_REPORT_MESSAGE_BYTES) {
      throw new RangeError(
        `Cannot frame an envelope of ${envelope.length} bytes: expected 1 to ${MAX_REPORT_MESSAGE_BYTES}`,
      );
    }
  }
  const size = reportBatchSize(envelopes.map((envelope) => envelope.length));
  if (size > MAX_REPORT_BATCH_BYTES) {
    throw new RangeError(
      `Cannot frame a batch of ${size} bytes: larger than ${MAX_REPORT_BATCH_BYTES} bytes`,
    );
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, envelopes.length);
  let offset = HEADER_BYTES;
  for (const envelope of envelopes) {
    view.setUint32(offset, envelope.length);
    bytes.set(envelope, offset + LENGTH_BYTES);
    offset += LENGTH_BYTES + envelope.length;
  }
  return bytes;
}

/**
 * Reads a batch's envelopes (views into `bytes`, not copies), checking every bound before use.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` for anything but an exact batch within its bounds.
 */
export function decodeReportBatch(bytes: Uint8Array): Uint8Array[] {
  const malformed = (why: string) =>
    new MleError("ERR_ENVELOPE_MALFORMED", `Cannot read report batch: ${why}`);
  if (bytes.length > MAX_REPORT_BATCH_BYTES) {
    throw malformed(`larger than ${MAX_REPORT_BATCH_BYTES} bytes`);
  }
  if (bytes.length < HEADER_BYTES || MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw malformed('expected the "MLB1" framing');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4);
  if (count < 1 || count > MAX_REPORT_BATCH_COUNT) {
    throw malformed(`expected 1 to ${MAX_REPORT_BATCH_COUNT} envelopes, got ${count}`);
  }
  const envelopes: Uint8Array[] = [];
  let offset = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (offset + LENGTH_BYTES > bytes.length) throw malformed(`envelope ${i} is cut short`);
    const length = view.getUint32(offset);
    offset += LENGTH_BYTES;
    if (length < 1 || length > MAX_REPORT_MESSAGE_BYTES) {
      throw malformed(`envelope ${i} declares ${length} bytes`);
    }
    if (offset + length > bytes.length) throw malformed(`envelope ${i} is cut short`);
    envelopes.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length) throw malformed("bytes after the last envelope");
  return envelopes;
}

/**
 * Reads a parent's answer to a batch of `count` envelopes: exactly one result per envelope, each
 * an HTTP status and a body (an object, or null). Anything else is no answer at all, and the
 * sender keeps every envelope.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID` when the answer is not one.
 */
export function readReportBatchAnswer(value: unknown, count: number): ReportBatchResult[] {
  const invalid = (why: string) =>
    new MleError("ERR_DOCUMENT_INVALID", `Cannot read the answer to a report batch: ${why}`);
  const results = (value as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) throw invalid('expected an object with a "results" array');
  if (results.length !== count) {
    throw invalid(`expected ${count} results, got ${results.length}`);
  }
  return results.map((result, i) => {
    const status = (result as { status?: unknown } | null)?.status;
    if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599) {
      throw invalid(`result ${i} has no HTTP status`);
    }
    const body = (result as { body?: unknown }).body;
    if (body !== null && (typeof body !== "object" || Array.isArray(body))) {
      throw invalid(`result ${i} has a body that is not an object`);
    }
    return { status: status as number, body: body ?? null };
  });
}
