/**
 * How the server takes one chunk: authenticate the sender, check the upload, index and exact
 * length on its record before any key work or reading the body, charge the chunk's bytes to the
 * quotas (`upload_quota.ts`: a chunk past a quota is refused before it is read), hold its body
 * within a byte budget shared by all requests (beyond it, 503 with `Retry-After`), open it in its
 * context (every failure the same opaque error), then write it and checkpoint
 * (`upload_chunk_writer.ts`), storing the upload once its last chunk is in.
 *
 * @module
 */

import { type ChunkContext, openChunk, openClearChunk } from "../envelope/upload_chunk.ts";
import { chunkLengthOf, RETRY_LATER_CODE } from "../protocol/upload.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import { IngestError, ingestErrorFrom } from "./ingest_error.ts";
import { type OpenUploads, unknownUpload } from "./open_uploads.ts";
import { authenticateSender } from "./sender_authentication.ts";
import {
  ackOf,
  checkChunk,
  checkpoint,
  checkpointDue,
  type ChunkAnswer,
  releasing,
  type UploadDisk,
  writeChunk,
} from "./upload_chunk_writer.ts";
import { finalAnswer } from "./upload_completion.ts";

/** What taking chunks needs. */
export interface ChunkIntakeOptions {
  computers: ComputerDirectory;
  uploads: OpenUploads;
  disk: UploadDisk;
  /** Bytes of chunk bodies held at once, all requests together. */
  memoryBudgetBytes: number;
}

/** One chunk as its request brings it: where it goes, its declared length, how to read it. */
export interface IncomingChunk {
  /** The computer sending the upload. */
  cid: number;
  /** The upload's id. */
  uid: string;
  /** The chunk's index in the upload. */
  index: number;
  /** The request's Content-Length, or null when it declared none (or a malformed one). */
  declaredLength: number | null;
  /** Reads the body; called only after every check that needs no body has passed. */
  readBody: () => Promise<Uint8Array<ArrayBuffer>>;
}

/** Accepts chunks of uploads in progress within a shared budget of bytes in flight. */
export class ChunkIntake {
  readonly #options: ChunkIntakeOptions;
  #inFlightBytes = 0;

  constructor(options: ChunkIntakeOptions) {
    this.#options = options;
  }

  /** Bytes of chunk bodies being read or opened now. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /**
   * Accepts one chunk: its length is checked before the body is read.
   *
   * @throws {IngestError} For every refusal; a chunk that does not open gives the same error
   * whatever is wrong with it.
   */
  async accept(chunk: IncomingChunk): Promise<ChunkAnswer> {
    const { cid, uid, index, declaredLength, readBody } = chunk;
    const { computers, uploads, disk, memoryBudgetBytes } = this.#options;
    const sender = await authenticateSender(computers, cid, "upload");
    // Index and length are checked on the record alone: no key work for a chunk refused anyway.
    const cached = uploads.cached(cid, uid);
    const record = cached?.record ?? await disk.records.getUpload(cid, uid);
    if (record === null || (!cached && uploads.heldElsewhere(record))) {
      throw unknownUpload(cid, uid);
    }
    if (!cached && (record.state === "complete" || record.state === "failed")) {
      return finalAnswer(record);
    }
    const expected = checkChunk(record, index, declaredLength);
    const loaded = cached ?? await uploads.withLock(cid, uid, () => uploads.load(cid, uid, true));
    if (!("bitmap" in loaded)) return finalAnswer(loaded);
    const active = loaded;
    const charge = chunkLengthOf(record.size, record.chunkSize, index);
    let charged = false;
    const written = { chunk: false };
    active.busy++;
    try {
      if (active.bitmap.has(index)) return ackOf(active, "duplicate");
      // Charged before the body is read: a chunk past a quota costs no reading, key work or disk.
      await disk.quota.reserve(cid, uid, index, charge);
      charged = true;
      if (this.#inFlightBytes + expected > memoryBudgetBytes && this.#inFlightBytes > 0) {
        throw new IngestError(503, RETRY_LATER_CODE, "Cannot take more chunks now; retry shortly");
      }
      this.#inFlightBytes += expected;
      try {
        const bytes = await readBody();
        // Spent buffers are freed at once: memory stays flat however large the file.
        using _spent = releasing(bytes);
        if (bytes.length !== expected) {
          throw new IngestError(
            400,
            "ERR_CHUNK_INVALID",
            `Cannot accept chunk ${index}: expected exactly ${expected} bytes`,
          );
        }
        const context: ChunkContext = { cid, uid, index, final: index === record.chunkCount - 1 };
        let plaintext: Uint8Array<ArrayBuffer>;
        try {
          plaintext = active.chunkKey
            ? await openChunk(active.chunkKey, context, bytes)
            : await openClearChunk(sender.publicKey, context, bytes);
        } catch (error) {
          throw ingestErrorFrom(error, "upload data");
        }
        using _written = releasing(plaintext);
        return await uploads.withLock(
          cid,
          uid,
          () => this.#write(cid, uid, index, plaintext, written),
        );
      } finally {
        this.#inFlightBytes -= expected;
      }
    } finally {
      // A chunk not written (refused, a duplicate, its upload ended) holds no quota.
      if (charged && !written.chunk) disk.quota.release(cid, uid, charge);
      active.busy--;
    }
  }

  async #write(
    cid: number,
    uid: string,
    index: number,
    plaintext: Uint8Array<ArrayBuffer>,
    written: { chunk: boolean },
  ): Promise<ChunkAnswer> {
    const { uploads, disk } = this.#options;
    // Loaded again: the upload may have been stored, failed or set aside meanwhile.
    const active = await uploads.load(cid, uid, true);
    if (!("bitmap" in active)) return finalAnswer(active);
    if (active.bitmap.has(index)) return ackOf(active, "duplicate");
    writeChunk(active, index, plaintext);
    written.chunk = true;
    if (active.bitmap.complete) {
      await uploads.finalize(active);
      const stored = await disk.records.getUpload(cid, uid);
      return finalAnswer(stored!, "stored");
    }
    if (checkpointDue(active, disk.now())) {
      // In the background: chunks keep being written while the disk syncs.
      void checkpoint(active, disk).catch((error) =>
        disk.log.warn("upload checkpoint failed", {
          cid,
          uid,
          cause: (error as Error).message,
        })
      );
    }
    return ackOf(active, "stored");
  }
}
