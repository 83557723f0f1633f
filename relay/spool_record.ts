/**
 * One spooled message as it lies in a spool segment (`relay/spool_segments.ts`): a header, the
 * message's bytes exactly as received, and a checksum over both, so that a record a crash cut short
 * or left half-written is recognised on restart and dropped (it was never acknowledged).
 *
 * ```text
 * "MLS1"      4 bytes, the format and its version
 * id          32 ASCII bytes, the spool id (arrival order)
 * sender      u64 big-endian, the computer id the message claims (0: not known)
 * length      u32 big-endian, the message's bytes
 * message     length bytes, as received (ciphertext stays ciphertext)
 * checksum    the first 8 bytes of SHA-256 over everything above
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { MAX_REPORT_MESSAGE_BYTES } from "../protocol/limits.ts";

const MAGIC = [0x4d, 0x4c, 0x53, 0x31]; // "MLS1"
const ID_BYTES = 32;
const HEADER_BYTES = 4 + ID_BYTES + 8 + 4;
const CHECKSUM_BYTES = 8;
/** Where a record's message begins, from the record's start. */
export const SPOOL_RECORD_HEADER_BYTES = HEADER_BYTES;
/** The bytes a record adds to its message. */
export const SPOOL_RECORD_OVERHEAD = HEADER_BYTES + CHECKSUM_BYTES;

/** Where a record's message lies in its segment. */
export interface SpoolRecordPlace {
  id: string;
  /** The computer the message claims, or null when it was not known. */
  sender: number | null;
  /** Offset of the message's first byte in the segment. */
  offset: number;
  length: number;
}

/** What a segment holds: its whole records, and where the first damaged one begins. */
export interface SpoolSegmentContents {
  records: SpoolRecordPlace[];
  /** Bytes of whole records from the start; anything after them is a torn or damaged tail. */
  validBytes: number;
}

const ascii = new TextEncoder();
const asciiDecoder = new TextDecoder();

/**
 * Encodes one record.
 *
 * @throws {RangeError} When the id is not 32 ASCII characters or the message is too large.
 *
 * @example
 * ```ts
 * import { encodeSpoolRecord, readSpoolSegment } from "./spool_record.ts";
 * const id = "0001700000000000-000000-0123abcd";
 * const record = encodeSpoolRecord(id, 42, new TextEncoder().encode("{}"));
 * console.log(readSpoolSegment(record).records[0].sender); // 42
 * ```
 */
export function encodeSpoolRecord(
  id: string,
  sender: number | undefined,
  message: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const idBytes = ascii.encode(id);
  if (idBytes.length !== ID_BYTES) throw new RangeError(`Cannot spool id "${id}": malformed`);
  if (message.length > MAX_REPORT_MESSAGE_BYTES) {
    throw new RangeError(`Cannot spool a message of ${message.length} bytes: too large`);
  }
  const record = new Uint8Array(HEADER_BYTES + message.length + CHECKSUM_BYTES);
  const view = new DataView(record.buffer);
  record.set(MAGIC, 0);
  record.set(idBytes, 4);
  view.setBigUint64(4 + ID_BYTES, BigInt(sender ?? 0));
  view.setUint32(4 + ID_BYTES + 8, message.length);
  record.set(message, HEADER_BYTES);
  const end = HEADER_BYTES + message.length;
  record.set(checksum(record.subarray(0, end)), end);
  return record;
}

/**
 * Reads a segment's records from its start, stopping at the first one that is cut short or whose
 * checksum or header is wrong: records are appended in order and each group is synced before the
 * next is written, so only the last group can be damaged, and it was never acknowledged.
 */
export function readSpoolSegment(bytes: Uint8Array): SpoolSegmentContents {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: SpoolRecordPlace[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    if (MAGIC.some((byte, i) => bytes[offset + i] !== byte)) break;
    const length = view.getUint32(offset + 4 + ID_BYTES + 8);
    const end = offset + HEADER_BYTES + length;
    if (length > MAX_REPORT_MESSAGE_BYTES || end + CHECKSUM_BYTES > bytes.length) break;
    const expected = checksum(bytes.subarray(offset, end));
    if (expected.some((byte, i) => bytes[end + i] !== byte)) break;
    const sender = Number(view.getBigUint64(offset + 4 + ID_BYTES));
    records.push({
      id: asciiDecoder.decode(bytes.subarray(offset + 4, offset + 4 + ID_BYTES)),
      sender: sender === 0 ? null : sender,
      offset: offset + HEADER_BYTES,
      length,
    });
    offset = end + CHECKSUM_BYTES;
  }
  return { records, validBytes: offset };
}

function checksum(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest().subarray(0, CHECKSUM_BYTES);
}
