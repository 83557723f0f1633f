/**
 * The records of the relay's upload buffer segments (`relay/upload_buffer.ts`): each an 8-byte
 * header, the chunk index and the body's length (big-endian 32-bit each), then the request body
 * as received. Reading stops at the first record that cannot be right for its upload (an index
 * past the chunk count, a length other than a chunk's), or that a crash cut short: only a
 * segment's end can be torn, since a new run never appends to an old segment.
 *
 * Pure: bytes in, bytes or places out.
 *
 * @module
 */

import { chunkOverhead } from "../protocol/upload.ts";

/** Bytes of a record's header. */
export const RECORD_HEADER = 8;

/** The shape of the upload a segment belongs to, which every record must fit. */
export interface SegmentUploadShape {
  chunkSize: number;
  chunkCount: number;
  encrypted: boolean;
}

/** Where one record's body is in its segment. */
export interface SegmentRecord {
  index: number;
  /** Offset of the body (after the header). */
  offset: number;
  length: number;
}

/**
 * The header of a record holding chunk `index`, `length` bytes long.
 *
 * @example
 * ```ts
 * import { recordHeader } from "./upload_segment_record.ts";
 * console.log(recordHeader(1, 2)); // Uint8Array(8) [0, 0, 0, 1, 0, 0, 0, 2]
 * ```
 */
export function recordHeader(index: number, length: number): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(RECORD_HEADER);
  const view = new DataView(header.buffer);
  view.setUint32(0, index);
  view.setUint32(4, length);
  return header;
}

/**
 * Reads a segment's records in order, stopping at the first that does not fit the upload or is
 * cut short. A chunk recorded twice appears twice: the first one counts.
 */
export function readSegmentRecords(
  bytes: Uint8Array,
  upload: SegmentUploadShape,
): SegmentRecord[] {
  const overhead = chunkOverhead(upload.encrypted);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: SegmentRecord[] = [];
  let offset = 0;
  while (offset + RECORD_HEADER <= bytes.length) {
    const index = view.getUint32(offset);
    const length = view.getUint32(offset + 4);
    const final = index === upload.chunkCount - 1;
    const fits = index < upload.chunkCount &&
      (final
        ? length >= overhead && length <= upload.chunkSize + overhead
        : length === upload.chunkSize + overhead);
    if (!fits || offset + RECORD_HEADER + length > bytes.length) break;
    records.push({ index, offset: offset + RECORD_HEADER, length });
    offset += RECORD_HEADER + length;
  }
  return records;
}
