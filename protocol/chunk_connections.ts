/**
 * A small pool of keep-alive HTTP/1.1 connections for the upload hot path: one chunk `PUT` per
 * request, a small JSON answer back. `fetch` costs about three times the CPU per 128 KiB request
 * and leaves tens of megabytes of spent buffers behind until a garbage collection (measured on
 * the test machines: 0.98 s against 0.35 s of CPU, 114 MiB against 42 MiB peak memory, for 4096
 * chunks); a client or relay sends thousands of chunks a second, so this plain writer and bounded
 * reader carry them. Plain `http:` only: for `https:` parents (and everything else) callers use
 * `fetch`.
 *
 * Every answer is bounded (headers 16 KiB, body `maxAnswerBytes`) and every request has a
 * deadline; a connection that fails is closed, never reused, and a request that failed on a
 * reused connection before any answer arrived is sent once more on a new one (a `PUT` of the
 * same bytes is idempotent).
 *
 * @module
 */

import { concatBytes } from "../envelope/concat_bytes.ts";
import { ParentUnreachableError } from "./bounded_fetch.ts";
import { declaredLength } from "./read_bounded.ts";
import { parseRetryAfter, type UploadAnswer } from "./upload_fetch.ts";

/** Options of a {@linkcode ChunkConnections} pool. */
export interface ChunkConnectionsOptions {
  /** Connections open at once (default 8). */
  maxConnections?: number;
  /** Deadline of one request, connecting included (default 60 s). */
  timeoutMs?: number;
  /** Largest answer body read (default 64 KiB). */
  maxAnswerBytes?: number;
}

const MAX_HEADER_BYTES = 16 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Connection {
  conn: Deno.Conn;
  /** Bytes read past the previous answer (none expected: no pipelining). */
  used: boolean;
}

/** Keep-alive connections to one `http:` origin. */
export class ChunkConnections {
  readonly #origin: URL;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #maxAnswer: number;
  readonly #idle: Connection[] = [];
  readonly #waiters: Array<() => void> = [];
  #open = 0;
  #closed = false;

  /**
   * @throws {RangeError} When the origin is not a plain `http:` URL.
   */
  constructor(origin: string | URL, options: ChunkConnectionsOptions = {}) {
    this.#origin = new URL(String(origin));
    if (!ChunkConnections.supports(this.#origin)) {
      throw new RangeError(`Cannot keep connections to "${origin}": only http: is supported`);
    }
    this.#max = options.maxConnections ?? 8;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#maxAnswer = options.maxAnswerBytes ?? 64 * 1024;
  }

  /** True for the URLs this pool serves: `http:` without credentials. */
  static supports(url: string | URL): boolean {
    const parsed = new URL(String(url));
    return parsed.protocol === "http:" && parsed.username === "" && parsed.password === "";
  }

  /**
   * Sends one request with a body and reads the JSON answer.
   *
   * @param path the path and query, starting with "/" (the origin's own path is prefixed).
   * @param timeoutMs this request's deadline, connecting included (default: the pool's).
   * @throws {ParentUnreachableError} On failure to connect, a broken connection, a timeout, or an
   * answer over the bounds.
   */
  async request(
    method: string,
    path: string,
    body: Uint8Array,
    contentType = "application/octet-stream",
    timeoutMs = this.#timeoutMs,
  ): Promise<UploadAnswer> {
    const url = `${this.#origin.origin}${this.#origin.pathname.replace(/\/+$/, "")}${path}`;
    const target = new URL(url);
    const head = encoder.encode(
      `${method} ${target.pathname}${target.search} HTTP/1.1\r\n` +
        `host: ${target.host}\r\ncontent-type: ${contentType}\r\n` +
        `content-length: ${body.length}\r\naccept: application/json\r\n\r\n`,
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      const connection = await this.#acquire(url);
      const reused = connection.used;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let timedOut = false;
      try {
        timer = setTimeout(() => {
          timedOut = true;
          closeQuietly(connection.conn);
        }, timeoutMs);
        await writeAll(connection.conn, head);
        await writeAll(connection.conn, body);
        const answer = await this.#readAnswer(connection.conn);
        connection.used = true;
        clearTimeout(timer);
        if (answer.keepAlive && !this.#closed) this.#release(connection);
        else this.#discard(connection);
        return answer.answer;
      } catch (error) {
        clearTimeout(timer);
        this.#discard(connection);
        // A kept connection the other side closed while idle: once more on a fresh one.
        if (reused && !timedOut && !(error instanceof AnswerError) && attempt === 0) continue;
        throw new ParentUnreachableError(url, {
          cause: timedOut ? new Error(`no answer within ${timeoutMs} ms`) : error,
        });
      }
    }
    throw new ParentUnreachableError(url);
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) {
      closeQuietly(connection.conn);
      this.#open--;
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async #acquire(url: string): Promise<Connection> {
    for (let waited = 0; waited < 100_000; waited++) {
      if (this.#closed) throw new ParentUnreachableError(url, { cause: new Error("pool closed") });
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#open < this.#max) {
        this.#open++;
        try {
          const conn = await Deno.connect({
            hostname: this.#origin.hostname.replace(/^\[|\]$/g, ""),
            port: Number(this.#origin.port || 80),
          });
          conn.setNoDelay(true);
          return { conn, used: false };
        } catch (cause) {
          this.#open--;
          this.#wakeOne();
          throw new ParentUnreachableError(url, { cause });
        }
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    throw new ParentUnreachableError(url, { cause: new Error("no connection became free") });
  }

  #release(connection: Connection): void {
    this.#idle.push(connection);
    this.#wakeOne();
  }

  #discard(connection: Connection): void {
    closeQuietly(connection.conn);
    this.#open--;
    this.#wakeOne();
  }

  #wakeOne(): void {
    this.#waiters.shift()?.();
  }

  /** Reads one answer: status line, headers, then a body framed by length or chunks. */
  async #readAnswer(
    conn: Deno.Conn,
  ): Promise<{ answer: UploadAnswer; keepAlive: boolean }> {
    const reader = new BufferedReader(conn);
    const headerBytes = await reader.readUntilBlankLine(MAX_HEADER_BYTES);
    const lines = decoder.decode(headerBytes).split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? "");
    if (!status) throw new AnswerError("the answer is not HTTP/1.x");
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const code = Number(status[1]);
    let body: Uint8Array;
    const length = headers.get("content-length");
    if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
      body = await reader.readChunked(this.#maxAnswer);
    } else if (length !== undefined) {
      const declared = declaredLength(length);
      if (declared === null || declared > this.#maxAnswer) {
        throw new AnswerError(`the answer's length "${length.slice(0, 20)}" is over the bound`);
      }
      body = await reader.readExactly(declared);
    } else if (code === 204 || code === 304) {
      body = new Uint8Array(0);
    } else {
      throw new AnswerError("the answer has no length");
    }
    let json: unknown = null;
    try {
      json = body.length ? JSON.parse(decoder.decode(body)) : null;
    } catch {
      json = null;
    }
    const connection = (headers.get("connection") ?? "").toLowerCase();
    return {
      answer: {
        status: code,
        body: json,
        retryAfterMs: parseRetryAfter(headers.get("retry-after") ?? null),
      },
      keepAlive: !connection.includes("close") && lines[0].startsWith("HTTP/1.1") &&
        !reader.hasLeftover,
    };
  }
}

/** A malformed or oversized answer (not a broken connection: never retried). */
class AnswerError extends Error {
  constructor(message: string) {
    super(`Cannot read the parent's answer: ${message}`);
    this.name = "AnswerError";
  }
}

/** Reads from a connection through one bounded buffer. */
class BufferedReader {
  readonly #conn: Deno.Conn;
  #buffer = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get hasLeftover(): boolean {
    return this.#end > this.#start;
  }

  async readUntilBlankLine(max: number): Promise<Uint8Array> {
    for (;;) {
      const at = indexOfBlankLine(this.#buffer, this.#start, this.#end);
      if (at >= 0) {
        const head = this.#buffer.slice(this.#start, at);
        this.#start = at + 4;
        return head;
      }
      if (this.#end - this.#start > max) throw new AnswerError("its headers are too large");
      await this.#fill(max + 4);
    }
  }

  async readExactly(length: number): Promise<Uint8Array> {
    while (this.#end - this.#start < length) await this.#fill(length);
    const bytes = this.#buffer.slice(this.#start, this.#start + length);
    this.#start += length;
    return bytes;
  }

  async readChunked(max: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let count = 0; count < 10_000; count++) {
      const line = decoder.decode(await this.#readLine(64));
      const size = Number.parseInt(line.split(";")[0].trim(), 16);
      if (!Number.isSafeInteger(size) || size < 0 || !/^[0-9a-fA-F]+/.test(line.trim())) {
        throw new AnswerError("a chunk size is malformed");
      }
      if (size === 0) {
        // Trailers, then the blank line.
        for (let trailer = 0; trailer < 64; trailer++) {
          if ((await this.#readLine(MAX_HEADER_BYTES)).length === 0) break;
        }
        break;
      }
      total += size;
      if (total > max) throw new AnswerError("its body is over the bound");
      parts.push(await this.readExactly(size));
      if ((await this.#readLine(2)).length !== 0) throw new AnswerError("a chunk is malformed");
    }
    return concatBytes(parts);
  }

  async #readLine(max: number): Promise<Uint8Array> {
    for (;;) {
      for (let i = this.#start; i + 1 < this.#end; i++) {
        if (this.#buffer[i] === 13 && this.#buffer[i + 1] === 10) {
          const line = this.#buffer.slice(this.#start, i);
          this.#start = i + 2;
          return line;
        }
      }
      if (this.#end - this.#start > max + 2) throw new AnswerError("a line is too long");
      await this.#fill(max + 2);
    }
  }

  /** Reads more bytes, growing the buffer up to what `want` needs. */
  async #fill(want: number): Promise<void> {
    if (this.#start > 0 && this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
    if (this.#end === this.#buffer.length) {
      const size = Math.max(this.#buffer.length * 2, want + 64);
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buffer = grown;
    }
    const n = await this.#conn.read(this.#buffer.subarray(this.#end));
    if (n === null) throw new Error("the connection closed before the answer ended");
    this.#end += n;
  }
}

function indexOfBlankLine(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i + 3 < end; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
