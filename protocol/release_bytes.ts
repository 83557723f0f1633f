/**
 * Frees the memory of a spent chunk-sized buffer at once: the uploads' readers, sealers and
 * writers on client, relay and server call it, so spent chunks do not pile up until the next
 * garbage collection.
 *
 * @module
 */

/**
 * Frees a chunk-sized buffer's memory now rather than at the next garbage collection, which
 * otherwise lets tens of megabytes of spent chunks pile up: detaching a buffer releases its
 * memory at once. Call it only when nothing uses `bytes`, or any other view of its buffer, any
 * more (a detached buffer reads as empty), and only on buffers this code made or was handed for
 * good (a read's result, an encryption's output), never on one a stream or connection may still
 * fill. Memory-safe even if the runtime still held the buffer (its operations keep their own
 * reference to the memory), but the bytes would then read as empty: hence the rules, and hence
 * only a view that covers its whole buffer is detached: a part of a larger buffer (a reader's
 * window, a pool) is left alone.
 *
 * @example
 * ```ts
 * import { releaseBytes } from "./release_bytes.ts";
 * const chunk = new Uint8Array(131072);
 * releaseBytes(chunk);
 * console.log(chunk.length); // 0
 * ```
 */
export function releaseBytes(bytes: Uint8Array | null | undefined): void {
  if (!bytes) return;
  const buffer = bytes.buffer;
  if (
    buffer instanceof ArrayBuffer && !buffer.detached && buffer.byteLength >= 16 * 1024 &&
    bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength
  ) {
    buffer.transfer(0);
  }
}
