/**
 * Reads a body stream into memory, stopping as soon as it passes a bound: whatever a
 * `Content-Length` header claims, no more than `maxBytes + 1` bytes are ever held. Used for
 * request bodies at the relay, answers from a parent, and decompressed bundle members.
 *
 * @module
 */

import { concatBytes } from "../envelope/concat_bytes.ts";

/**
 * Reads a stream to its end, or returns null (and cancels the stream) once it holds more than
 * `maxBytes` bytes. A stream that errors rejects as it would.
 *
 * @example
 * ```ts
 * import { readBounded } from "./read_bounded.ts";
 * const bytes = await readBounded(new Blob(["hello"]).stream(), 16);
 * console.log(bytes?.length); // 5
 * ```
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return null;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return concatBytes(chunks);
}
