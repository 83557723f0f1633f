/**
 * The HTTP helpers of the upload path, shared by clients and relays: a time- and size-bounded
 * call that also reads `Retry-After`, and the readers of a chunk's body of a declared length, which
 * never hold more.
 *
 * @module
 */

import { fetchJson } from "./bounded_fetch.ts";
import { readBounded } from "./read_bounded.ts";

/** An answer to an upload request. */
export interface UploadAnswer {
  status: number;
  /** The JSON body, or null when there was none or it was not JSON. */
  body: unknown;
  /** The delay `Retry-After` asked for, in milliseconds (bounded), or null. */
  retryAfterMs: number | null;
}

/** The longest `Retry-After` honoured: a parent cannot park a client for longer. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Sends a request and reads at most `maxBytes` of a JSON answer (`fetchJson`, never following a
 * redirect, 30 s unless `timeoutMs` says otherwise) with its `Retry-After` as a delay.
 *
 * @throws {ParentUnreachableError} On network failure, timeout, or an answer over the bound.
 */
export async function fetchUploadAnswer(
  url: string,
  init: RequestInit & { timeoutMs?: number; maxBytes: number },
): Promise<UploadAnswer> {
  const { status, body, retryAfter } = await fetchJson(url, {
    ...init,
    timeoutMs: init.timeoutMs ?? 30_000,
    redirect: "manual",
  });
  return { status, body, retryAfterMs: parseRetryAfter(retryAfter ?? null) };
}

/**
 * Reads `Retry-After` (seconds, or an HTTP date) as milliseconds from now, capped at
 * {@linkcode MAX_RETRY_AFTER_MS}.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./upload_fetch.ts";
 * console.log(parseRetryAfter("2")); // 2000
 * ```
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  let ms: number;
  if (/^\d{1,9}$/.test(text)) ms = Number(text) * 1000;
  else {
    // An HTTP-date starts with the day's name in each of its three forms (RFC 9110, 5.6.7);
    // anything else (such as "-1", which `Date.parse` would take as a year) is not one.
    if (!/^[A-Za-z]{3}[, ]/.test(text)) return null;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/**
 * Reads a chunk request's body of exactly `length` bytes, the length its `Content-Length` declared
 * and the caller already checked against its bounds, with the runtime's own body collector: the
 * cheapest way into JavaScript (measured on the 2-core test machine, 128 KiB `PUT`s into
 * `Deno.serve`: about 1.1 CPU seconds per GiB received, against 1.6 for a "bring your own buffer"
 * reader and more for a piece-by-piece one; the server's CPU per GiB uploaded fell by about a
 * tenth and its peak memory from about 102 to 92 MiB with `npm run bench:upload`, but see
 * {@linkcode readExactBody} for the relay). The HTTP framing bounds the body to the declared
 * length (the server refuses a request that declares two lengths, or a length and chunked
 * framing); a request with `Transfer-Encoding`, or whose `Content-Length` is not `length`, is
 * refused unread all the same, so no body can run past what the caller allowed.
 *
 * @returns the body, or null when it is not exactly `length` bytes (or the sender stopped).
 */
export async function readDeclaredBody(
  request: Request,
  length: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (
    request.headers.has("transfer-encoding") ||
    request.headers.get("content-length") !== String(length)
  ) {
    await request.body?.cancel().catch(() => {});
    return null;
  }
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await request.arrayBuffer());
  } catch {
    return null; // the sender closed before the end
  }
  return bytes.length === length ? bytes : null;
}

/**
 * Reads a chunk request's body whose exact length the caller already checked from
 * `Content-Length`, straight into one buffer of that length: a "bring your own buffer" reader
 * fills it in place, so there is no per-piece buffer to allocate, copy and free. Measured on the
 * 2-core test machine against `readBounded` (`read_bounded.ts`), with the garbage collection it spares: the
 * relay's CPU per GiB uploaded fell by about a quarter. Never holds more than `length` bytes: a
 * body that runs longer is refused as soon as one byte more arrives. The relay reads chunks this
 * way: it passes them on to a socket, and with {@linkcode readDeclaredBody} its CPU per GiB rose
 * by about a seventh and its peak memory from about 100 to 160 MiB (measured with
 * `npm run bench:upload`), where the server, which decrypts them at once, gained.
 *
 * @returns the body, or null when it is not exactly `length` bytes.
 */
export async function readExactBody(
  stream: ReadableStream<Uint8Array> | null,
  length: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (stream === null) return length === 0 ? new Uint8Array(0) : null;
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: the general reader.
    const bytes = await readBounded(stream, length, length);
    return bytes !== null && bytes.length === length ? bytes : null;
  }
  let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(length);
  let size = 0;
  try {
    while (size < length) {
      const { done, value } = await reader.read(buffer.subarray(size));
      if (value === undefined) return null; // cancelled
      // The reader hands the (transferred) buffer back as `value`'s.
      buffer = new Uint8Array(value.buffer as ArrayBuffer);
      size += value.length;
      if (done) break;
    }
    if (size !== length) return null;
    // One byte more (or the end): a body longer than declared is refused.
    const { done } = await reader.read(new Uint8Array(1));
    if (!done) {
      await reader.cancel().catch(() => {});
      return null;
    }
  } finally {
    reader.releaseLock();
  }
  return buffer;
}
