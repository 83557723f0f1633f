import assert from "node:assert/strict";
import { parseRetryAfter, readBodyUpTo, readDeclaredBody, releaseBytes } from "./upload_fetch.ts";
import { concatBytes } from "../envelope/concat_bytes.ts";

/** A plain (not byte) stream: readers fall back to the default reader. */
function plainStream(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next === pieces.length) controller.close();
      else controller.enqueue(pieces[next++].slice());
    },
  });
}

function bytesOf(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("releaseBytes frees a whole chunk-sized buffer at once", () => {
  const chunk = new Uint8Array(128 * 1024);
  releaseBytes(chunk);
  assert.equal(chunk.length, 0);
  assert.equal(chunk.buffer.detached, true);
  releaseBytes(chunk); // already detached: nothing happens
});

Deno.test("releaseBytes leaves small buffers and missing values alone", () => {
  const small = new Uint8Array(1024).fill(7);
  releaseBytes(small);
  assert.equal(small.length, 1024);
  assert.equal(small[0], 7);
  releaseBytes(null);
  releaseBytes(undefined);
});

Deno.test("releaseBytes never detaches a buffer it sees only part of", () => {
  const pool = new Uint8Array(256 * 1024).fill(9);
  const part = pool.subarray(0, 128 * 1024);
  releaseBytes(part);
  assert.equal(pool.length, 256 * 1024, "the larger buffer is intact");
  assert.equal(part.length, 128 * 1024);
  assert.equal(pool[200 * 1024], 9);
  const tail = pool.subarray(64 * 1024);
  releaseBytes(tail);
  assert.equal(pool.buffer.detached, false);
});

/** A `Deno.serve` on 127.0.0.1 whose handler reads each body with `readDeclaredBody`. */
function declaredBodyServer(length: number) {
  const results: Array<Uint8Array | null> = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const bytes = await readDeclaredBody(request, length);
      results.push(bytes);
      return Response.json({ read: bytes?.length ?? null });
    },
  );
  return { results, port: server.addr.port, close: () => server.shutdown() };
}

/** Sends raw bytes on a new connection and reads until the peer closes or `ms` pass. */
async function sendRaw(port: number, bytes: Uint8Array, closeWrite = false, ms = 2000) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), ms);
  let text = "";
  try {
    await conn.write(bytes);
    if (closeWrite) await conn.closeWrite();
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
      if (/\r\n\r\n[\s\S]*\}/.test(text)) break;
    }
  } catch {
    // closed by the timer or the peer
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return text;
}

Deno.test("readDeclaredBody reads a body of exactly its declared length over real HTTP", async () => {
  const body = bytesOf(300_000);
  const server = declaredBodyServer(body.length);
  try {
    const answer = await fetch(`http://127.0.0.1:${server.port}/`, { method: "PUT", body });
    assert.deepEqual(await answer.json(), { read: body.length });
    assert.deepEqual(server.results[0], body);
  } finally {
    await server.close();
  }
});

Deno.test("readDeclaredBody refuses a body of another length, a cut body, and chunked framing", async () => {
  const server = declaredBodyServer(10);
  const head = (length: number) =>
    new TextEncoder().encode(`PUT / HTTP/1.1\r\nhost: a\r\ncontent-length: ${length}\r\n\r\n`);
  try {
    // Declared 9: not the length the caller allowed, refused unread.
    const other = await sendRaw(port(server), concatBytes([head(9), bytesOf(9)]));
    assert.match(other, /"read":null/);
    // Declared 10, sender stops after 4 bytes.
    await sendRaw(port(server), concatBytes([head(10), bytesOf(4)]), true, 1000);
    // Chunked: no Content-Length at all.
    const chunked = await sendRaw(
      port(server),
      new TextEncoder().encode(
        "PUT / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
      ),
    );
    assert.match(chunked, /"read":null/);
    assert.deepEqual(server.results, [null, null, null]);
    // Bytes past the declared length belong to the next request, never to this body.
    const extra = await sendRaw(port(server), concatBytes([head(10), bytesOf(15)]));
    assert.match(extra, /"read":10/);
    assert.deepEqual(server.results[3], bytesOf(10));
  } finally {
    await server.close();
  }
});

Deno.test("readDeclaredBody refuses a request that says Transfer-Encoding, unread", async () => {
  const request = new Request("http://127.0.0.1/", {
    method: "PUT",
    body: bytesOf(10),
    headers: { "content-length": "10", "transfer-encoding": "chunked" },
  });
  assert.equal(await readDeclaredBody(request, 10), null);
  const plain = new Request("http://127.0.0.1/", {
    method: "PUT",
    body: bytesOf(10),
    headers: { "content-length": "10" },
  });
  assert.deepEqual(await readDeclaredBody(plain, 10), bytesOf(10));
});

function port(server: { port: number }): number {
  return server.port;
}

Deno.test("readBodyUpTo returns the body within the bound and null past it", async () => {
  const body = bytesOf(100_000);
  assert.deepEqual(
    await readBodyUpTo(plainStream([body.subarray(0, 10), body.subarray(10)]), 100_000),
    body,
  );
  assert.equal(await readBodyUpTo(plainStream([body]), 99_999), null);
  assert.deepEqual(await readBodyUpTo(null, 10), new Uint8Array(0));
});

Deno.test("readBodyUpTo stops reading as soon as the bound is passed", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 1000) controller.close();
      else controller.enqueue(new Uint8Array(1024));
    },
  });
  assert.equal(await readBodyUpTo(endless, 8 * 1024), null);
  assert.ok(pulled <= 12, `pulled ${pulled} pieces for an 8 KiB bound`);
});

Deno.test("parseRetryAfter reads seconds and dates, capped at a minute", () => {
  const now = Date.parse("2026-11-23T12:00:00Z");
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter(" 0 "), 0);
  assert.equal(parseRetryAfter("3600"), 60_000);
  assert.equal(parseRetryAfter("Mon, 23 Nov 2026 12:00:05 GMT", now), 5000);
  assert.equal(parseRetryAfter("Mon, 23 Nov 2026 11:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon"), null);
  assert.equal(parseRetryAfter("-1"), null);
});
