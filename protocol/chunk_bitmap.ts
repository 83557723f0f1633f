/**
 * Which chunks of an upload a role holds, one bit per chunk: what a server checkpoints, and what
 * a status's missing ranges are read from. Pure: no files.
 *
 * @module
 */

import { MAX_CHUNK_COUNT } from "./upload.ts";

/**
 * Which chunks of an upload are held, one bit each: at most MAX_CHUNK_COUNT bits (256 KiB).
 *
 * @example
 * ```ts
 * import { ChunkBitmap } from "./chunk_bitmap.ts";
 * const bitmap = new ChunkBitmap(5);
 * bitmap.set(0);
 * bitmap.set(3);
 * console.log(bitmap.missingRanges(10).ranges); // [[1, 3], [4, 5]]
 * ```
 */
export class ChunkBitmap {
  readonly count: number;
  readonly #bits: Uint8Array;
  #held = 0;

  constructor(count: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CHUNK_COUNT) {
      throw new RangeError(`Cannot track ${count} chunks: expected 1 to ${MAX_CHUNK_COUNT}`);
    }
    this.count = count;
    this.#bits = new Uint8Array(Math.ceil(count / 8));
    if (bytes) {
      if (bytes.length !== this.#bits.length) {
        throw new RangeError(`Cannot read chunk bitmap: expected ${this.#bits.length} bytes`);
      }
      for (let i = 0; i < count; i++) {
        if ((bytes[i >> 3] & (1 << (i & 7))) !== 0) this.set(i);
      }
    }
  }

  /** Chunks held. */
  get held(): number {
    return this.#held;
  }

  /** True when every chunk is held. */
  get complete(): boolean {
    return this.#held === this.count;
  }

  has(index: number): boolean {
    return index >= 0 && index < this.count && (this.#bits[index >> 3] & (1 << (index & 7))) !== 0;
  }

  /** Marks a chunk held; returns false when it already was. */
  set(index: number): boolean {
    if (index < 0 || index >= this.count) throw new RangeError(`Chunk ${index} is out of range`);
    const mask = 1 << (index & 7);
    if ((this.#bits[index >> 3] & mask) !== 0) return false;
    this.#bits[index >> 3] |= mask;
    this.#held++;
    return true;
  }

  /** The first missing chunk at or after `from`, or -1. */
  nextMissing(from = 0): number {
    for (let i = Math.max(0, from); i < this.count; i++) {
      const byte = this.#bits[i >> 3];
      if (byte === 0xff && (i & 7) === 0 && i + 8 <= this.count) {
        i += 7;
        continue;
      }
      if ((byte & (1 << (i & 7))) === 0) return i;
    }
    return -1;
  }

  /** The first held chunk at or after `from`, or `count`. */
  nextHeld(from: number): number {
    for (let i = Math.max(0, from); i < this.count; i++) {
      if (this.#bits[i >> 3] === 0 && (i & 7) === 0) {
        i += 7;
        continue;
      }
      if (this.has(i)) return i;
    }
    return this.count;
  }

  /** Missing ranges [start, end), at most `max` of them. */
  missingRanges(max: number): { ranges: Array<[number, number]>; truncated: boolean } {
    const ranges: Array<[number, number]> = [];
    let i = this.nextMissing(0);
    while (i >= 0) {
      const end = Math.min(this.count, this.nextHeld(i + 1));
      if (ranges.length === max) return { ranges, truncated: true };
      ranges.push([i, end]);
      i = end < this.count ? this.nextMissing(end) : -1;
    }
    return { ranges, truncated: false };
  }

  /** The bitmap's bytes, for a checkpoint. */
  toBytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.#bits);
  }
}
