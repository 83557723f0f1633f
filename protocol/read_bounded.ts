/**
 * Reads a body stream into memory, stopping as soon as it passes a bound: whatever a
 * `Content-Length` header claims, no more than `maxBytes` bytes are ever held (plus the one piece
 * that passed the bound). The one bounded reader for request bodies at the relay and the server
 * ({@linkcode readRequestBody}), answers from a parent, upload manifests and chunks, and
 * decompressed bundle members.
 *
 * @module
 */

import { releaseBytes } from "./release_bytes.ts";

/** The buffer a read starts with when nothing says how long the stream is. */
export const INITIAL_READ_BYTES = 16 * 1024;

/**
 * The buffer to start a body's read with: the length its `Content-Length` declares, when that is a
 * length within `maxBytes` and no larger than {@linkcode INITIAL_READ_BYTES}, so that a small body
 * fills its buffer exactly; otherwise the usual start. A declared length is only a hint: what is
 * read is still counted (a client can declare 8 MiB and send nothing, so no more is set aside up
 * front than without a header).
 *
 * @example
 * ```ts
 * import { initialReadBytes } from "./read_bounded.ts";
 * console.log(initialReadBytes("3041", 65536)); // 3041
 * console.log(initialReadBytes("9000000", 65536)); // 16384
 * ```
 */
export function initialReadBytes(
  contentLength: string | null | undefined,
  maxBytes: number,
): number {
  const length = declaredLength(contentLength);
  return length !== null && length <= maxBytes && length <= INITIAL_READ_BYTES
    ? length
    : INITIAL_READ_BYTES;
}

/**
 * A `Content-Length` value as a number, or null when it is not one (absent, signed, over nine
 * digits): the one reading of a declared length, for request bodies, upload chunks and answers.
 */
export function declaredLength(contentLength: string | null | undefined): number | null {
  const declared = contentLength?.trim() ?? "";
  return /^\d{1,9}$/.test(declared) ? Number(declared) : null;
}

/**
 * Reads a request's body, never holding more than `maxBytes`, or returns null past that bound: the
 * one reader of request bodies at the server and the relay (no `bodyLimit` middleware before it),
 * but for the web console's forms, at most 64 KiB, which hono parses.
 *
 * Without `Transfer-Encoding`, the HTTP server frames a body at exactly its declared length (it
 * refuses a request that declares two lengths, or a length and chunked framing). So a declared
 * length over the bound is refused unread, and a body declared no larger than
 * {@linkcode INITIAL_READ_BYTES} (a report, a registration) is taken in one call of the runtime's
 * own collector. Any other body is counted while it is read ({@linkcode readBounded}): the
 * collector sets aside a declared length before a byte arrives (forty connections each declaring
 * 8 MB and sending three bytes held 648 MiB that way; read_bounded_test.ts).
 *
 * The request's `body` stream is never made for a small body: once made, it costs the collector
 * its fast path. A 3 KB body into `Deno.serve` on the 2-core test machine costs about 15 µs of
 * event loop so, against about 30 when the stream was made first (as hono's `bodyLimit` does to
 * every request) and about 30 read piece by piece.
 *
 * @throws what reading the body throws (the sender closing before the end).
 * @example
 * ```ts
 * import { readRequestBody } from "./read_bounded.ts";
 * const request = new Request("http://127.0.0.1/", { method: "POST", body: "hello" });
 * console.log((await readRequestBody(request, 16))?.length); // 5
 * ```
 */
export async function readRequestBody(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const contentLength = request.headers.get("content-length");
  // With chunked framing a declared length says nothing; without it, it is the body's length.
  const declared = request.headers.has("transfer-encoding") ? null : declaredLength(contentLength);
  if (declared !== null && declared > maxBytes) return null;
  if (declared !== null && declared <= INITIAL_READ_BYTES) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    // The framing holds it to the declared length; checked all the same.
    return bytes.length <= maxBytes ? bytes : null;
  }
  return await readBounded(request.body, maxBytes, initialReadBytes(contentLength, maxBytes));
}

/**
 * Reads a stream to its end into one buffer, or returns null (and cancels the stream) once it
 * holds more than `maxBytes` bytes. `expectedBytes` sizes the buffer up front (a chunk's exact
 * length); it grows by doubling, up to `maxBytes`, and an outgrown buffer is freed at once. A
 * stream that errors rejects as it would.
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
  expectedBytes = INITIAL_READ_BYTES,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  let buffer = new Uint8Array(Math.min(maxBytes, expectedBytes));
  let size = 0;
  let ended = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      if (size + value.length > maxBytes) {
        await reader.cancel().catch(() => {});
        return null;
      }
      if (size + value.length > buffer.length) {
        const grown = new Uint8Array(
          Math.min(maxBytes, Math.max(buffer.length * 2, size + value.length)),
        );
        grown.set(buffer.subarray(0, size));
        releaseBytes(buffer);
        buffer = grown;
      }
      buffer.set(value, size);
      size += value.length;
      // `value` belongs to the runtime's stream: never detach it (only buffers we made).
    }
  } finally {
    // A stream read to its end is closed and stays locked to no purpose: releasing the lock
    // would make a TypeError (with its stack) for the reader's closed promise, about 3 to 13 µs
    // on every request body. One left early (refused, or failed) is released.
    if (!ended) reader.releaseLock();
  }
  return size === buffer.length ? buffer : buffer.subarray(0, size);
}
