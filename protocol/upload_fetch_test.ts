import assert from "node:assert/strict";
import { parseRetryAfter, readDeclaredBody } from "./upload_fetch.ts";
import { concatBytes } from "../envelope/concat_bytes.ts";

function bytesOf(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

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
