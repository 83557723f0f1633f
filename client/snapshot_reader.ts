/**
 * Reads an upload's snapshot chunk by chunk: sequential reads, seeking only over gaps, into
 * buffers reused once their chunk is sealed, so memory stays at a few chunks whatever the size.
 *
 * @module
 */

import { chunkLengthOf } from "../protocol/upload.ts";
import { releaseBytes } from "../protocol/release_bytes.ts";

/** The chunks of one open snapshot file. */
export class SnapshotReader {
  readonly #file: Deno.FsFile;
  readonly #size: number;
  readonly #chunkSize: number;
  readonly #keep: number;
  readonly #name: string;
  #position = 0;
  /**
   * Plaintext buffers sealed and free again (sealing copies its input): one per chunk in flight is
   * reused rather than a fresh one allocated, zeroed and freed per chunk.
   */
  readonly #spareBuffers: Uint8Array<ArrayBuffer>[] = [];

  /**
   * Reads `file` (`size` bytes, named `name` in errors) in chunks of `chunkSize`, keeping up to
   * `keep` spare buffers (the chunks in flight).
   */
  constructor(
    file: Deno.FsFile,
    options: { size: number; chunkSize: number; keep: number; name: string },
  ) {
    this.#file = file;
    this.#size = options.size;
    this.#chunkSize = options.chunkSize;
    this.#keep = Math.max(1, options.keep);
    this.#name = options.name;
  }

  /** Reads chunk `index`; give the buffer back with {@linkcode SnapshotReader.spare}. */
  read(index: number): Uint8Array<ArrayBuffer> {
    const length = chunkLengthOf(this.#size, this.#chunkSize, index);
    const offset = index * this.#chunkSize;
    // Synchronous: reading from the page cache takes microseconds, less than a thread hand-off.
    if (this.#position !== offset) this.#file.seekSync(offset, Deno.SeekMode.Start);
    const spare = this.#spareBuffers.pop();
    const buffer = spare?.length === length ? spare : new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const n = this.#file.readSync(buffer.subarray(filled));
      if (n === null) {
        throw new Error(`Cannot read upload ${this.#name}: its snapshot is shorter than queued`);
      }
      filled += n;
    }
    this.#position = offset + length;
    return buffer;
  }

  /** Keeps a sealed chunk's plaintext buffer for the next read, or frees it. */
  spare(plaintext: Uint8Array<ArrayBuffer>): void {
    if (this.#spareBuffers.length < this.#keep) this.#spareBuffers.push(plaintext);
    else releaseBytes(plaintext);
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }
}
