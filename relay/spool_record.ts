/**
 * One spooled message as it lies in a spool segment (`relay/spool_segments.ts`): a header, the
 * message's bytes exactly as received, and a checksum over both, so that a record a crash cut short
 * or left half-written is recognised on restart and dropped (it was never acknowledged).
 *
 * ```text
 * "MLS2"      4 bytes, the format and its version
 * id          32 ASCII bytes, the spool id (arrival order)
 * sender      u64 big-endian, the computer id the message claims (0: not known)
 * length      u32 big-endian, the message's bytes
 * message     length bytes, as received (ciphertext stays ciphertext)
 * checksum    u32 big-endian, CRC-32 (IEEE, as zlib) over everything above
 * ```
 *
 * The checksum finds torn and damaged records, what a crash or a bad disk leaves: it is no
 * protection against someone who can write the relay's files, and needs none (the server checks
 * every sender's signature). Version 1 records ("MLS1", whose checksum is the first 8 bytes of
 * SHA-256 over the same fields) are still read, so a spool an earlier relay left is delivered;
 * new records are version 2, whose CRC-32 costs a twentieth of the SHA-256 on every accepted
 * report.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { MAX_REPORT_MESSAGE_BYTES } from "../protocol/limits.ts";

const MAGIC_V2 = [0x4d, 0x4c, 0x53, 0x32]; // "MLS2"
const ID_BYTES = 32;
const HEADER_BYTES = 4 + ID_BYTES + 8 + 4;
const CHECKSUM_BYTES = 4;

/** A record format that is read: its magic, and its checksum's size and check. */
interface RecordFormat {
  magic: readonly number[];
  checksumBytes: number;
  /** Whether `stored` (the record's checksum) matches `whole` (everything before it). */
  intact(whole: Uint8Array, stored: Uint8Array): boolean;
}

/** The formats read, newest first: version 2 (CRC-32), then version 1 (8 bytes of SHA-256). */
const READ_FORMATS: readonly RecordFormat[] = [
  {
    magic: MAGIC_V2,
    checksumBytes: CHECKSUM_BYTES,
    intact: (whole, stored) =>
      new DataView(stored.buffer, stored.byteOffset, CHECKSUM_BYTES).getUint32(0) === crc32(whole),
  },
  {
    magic: [0x4d, 0x4c, 0x53, 0x31], // "MLS1"
    checksumBytes: 8,
    intact: (whole, stored) => {
      const digest = createHash("sha256").update(whole).digest();
      return stored.every((byte, i) => digest[i] === byte);
    },
  },
];

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

const asciiDecoder = new TextDecoder();

/**
 * The bytes a record of this message takes, after checking what it will hold.
 *
 * @throws {RangeError} When the id is not 32 printable ASCII characters or the message is too large.
 */
export function spoolRecordSize(id: string, message: Uint8Array): number {
  if (id.length !== ID_BYTES || !/^[\x21-\x7e]*$/.test(id)) {
    throw new RangeError(`Cannot spool id "${id}": malformed`);
  }
  if (message.length > MAX_REPORT_MESSAGE_BYTES) {
    throw new RangeError(`Cannot spool a message of ${message.length} bytes: too large`);
  }
  return SPOOL_RECORD_OVERHEAD + message.length;
}

/**
 * Writes one record into `target` at `at` (a group of records shares one buffer, so each message
 * is copied once); the caller checked it with {@linkcode spoolRecordSize}.
 *
 * @returns where the record ends.
 */
export function writeSpoolRecord(
  target: Uint8Array,
  at: number,
  id: string,
  sender: number | undefined,
  message: Uint8Array,
): number {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  target.set(MAGIC_V2, at);
  for (let i = 0; i < ID_BYTES; i++) target[at + 4 + i] = id.charCodeAt(i);
  view.setBigUint64(at + 4 + ID_BYTES, BigInt(sender ?? 0));
  view.setUint32(at + 4 + ID_BYTES + 8, message.length);
  target.set(message, at + HEADER_BYTES);
  const end = at + HEADER_BYTES + message.length;
  view.setUint32(end, crc32(target.subarray(at, end)));
  return end + CHECKSUM_BYTES;
}

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
  const record = new Uint8Array(spoolRecordSize(id, message));
  writeSpoolRecord(record, 0, id, sender, message);
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
    const format = READ_FORMATS.find(({ magic }) =>
      magic.every((byte, i) => bytes[offset + i] === byte)
    );
    if (format === undefined) break;
    const length = view.getUint32(offset + 4 + ID_BYTES + 8);
    const end = offset + HEADER_BYTES + length;
    const { checksumBytes } = format;
    if (length > MAX_REPORT_MESSAGE_BYTES || end + checksumBytes > bytes.length) break;
    if (!format.intact(bytes.subarray(offset, end), bytes.subarray(end, end + checksumBytes))) {
      break;
    }
    const sender = Number(view.getBigUint64(offset + 4 + ID_BYTES));
    records.push({
      id: asciiDecoder.decode(bytes.subarray(offset + 4, offset + 4 + ID_BYTES)),
      sender: sender === 0 ? null : sender,
      offset: offset + HEADER_BYTES,
      length,
    });
    offset = end + checksumBytes;
  }
  return { records, validBytes: offset };
}
