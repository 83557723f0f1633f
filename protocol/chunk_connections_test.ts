import assert from "node:assert/strict";
import { ParentUnreachableError } from "./bounded_fetch.ts";
import { ChunkConnections } from "./chunk_connections.ts";

Deno.test("ChunkConnections sends bodies over kept connections and reads status, JSON and Retry-After", async () => {
  const ports = new Set<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req, info) => {
      ports.add(info.remoteAddr.port);
      const body = new Uint8Array(await req.arrayBuffer());
      const url = new URL(req.url);
      if (url.pathname.endsWith("/busy")) {
        return Response.json({ error: { code: "ERR_RETRY_LATER", message: "busy" } }, {
          status: 503,
          headers: { "retry-after": "2" },
        });
      }
      return Response.json({ length: body.length, first: body[0], path: url.pathname });
    },
  );
  const pool = new ChunkConnections(`http://127.0.0.1:${server.addr.port}/base/`, {
    maxConnections: 2,
  });
  try {
    for (let i = 0; i < 6; i++) {
      const answer = await pool.request("PUT", `/x/${i}`, new Uint8Array(100_000).fill(i + 1));
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { length: 100_000, first: i + 1, path: `/base/x/${i}` });
    }
    assert.equal(ports.size, 1, "one connection, kept alive");
    const together = await Promise.all(
      [0, 1, 2, 3].map((i) => pool.request("PUT", `/y/${i}`, new Uint8Array(10))),
    );
    assert.ok(together.every((answer) => answer.status === 200));
    assert.ok(ports.size <= 2, "never more connections than allowed");
    const busy = await pool.request("PUT", "/busy", new Uint8Array(1));
    assert.equal(busy.status, 503);
    assert.equal(busy.retryAfterMs, 2000);
  } finally {
    pool.close();
    await server.shutdown();
  }
});

/** A bare TCP server answering each request with `answer`, then closing when told. */
function rawServer(answer: string, closeAfter: boolean) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(65536);
        let text = "";
        try {
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) break;
            text += new TextDecoder().decode(buffer.subarray(0, n));
            const end = text.indexOf("\r\n\r\n");
            const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
            if (end >= 0 && text.length >= end + 4 + length) {
              text = "";
              await conn.write(new TextEncoder().encode(answer));
              if (closeAfter) conn.close();
            }
          }
        } catch {
          // closed
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: () => stopRawServer(listener, conns, served),
  };
}

Deno.test("ChunkConnections reads a chunked answer and resends once when a kept connection was closed", async () => {
  const server = rawServer(
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n',
    true,
  );
  const pool = new ChunkConnections(`http://127.0.0.1:${server.port}`);
  try {
    assert.deepEqual((await pool.request("PUT", "/1", new Uint8Array(5))).body, { a: 1 });
    // The server closed the connection after answering; the pool finds out and reconnects.
    assert.deepEqual((await pool.request("PUT", "/2", new Uint8Array(5))).body, { a: 1 });
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("ChunkConnections refuses oversized or malformed answers and unreachable parents", async () => {
  const cases = [
    "HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\n\r\n",
    "SMTP ready\r\n\r\n",
    `HTTP/1.1 200 OK\r\nx-long: ${"x".repeat(20_000)}\r\n\r\n`,
    "HTTP/1.1 200 OK\r\n\r\n{}",
  ];
  for (const answer of cases) {
    const server = rawServer(answer, false);
    const pool = new ChunkConnections(`http://127.0.0.1:${server.port}`, { timeoutMs: 2000 });
    try {
      await assert.rejects(pool.request("PUT", "/", new Uint8Array(3)), ParentUnreachableError);
    } finally {
      pool.close();
      await server.close();
    }
  }
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const pool = new ChunkConnections(`http://127.0.0.1:${port}`);
  await assert.rejects(pool.request("PUT", "/", new Uint8Array(3)), ParentUnreachableError);
  pool.close();
  assert.throws(() => new ChunkConnections("https://example.com"), RangeError);
});

Deno.test("ChunkConnections gives up on a silent parent at the request's own deadline", async () => {
  // Accepts connections and reads, but never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      void conn.readable.pipeTo(new WritableStream()).catch(() => {});
    }
  })();
  const pool = new ChunkConnections(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`, {
    timeoutMs: 60_000,
  });
  try {
    const started = performance.now();
    await assert.rejects(
      pool.request("PUT", "/", new Uint8Array(3), "application/octet-stream", 300),
      (error: Error) => {
        assert.ok(error instanceof ParentUnreachableError);
        assert.match(String((error.cause as Error).message), /no answer within 300 ms/);
        return true;
      },
    );
    assert.ok(performance.now() - started < 30_000, "the pool's own 60 s deadline applied");
  } finally {
    pool.close();
    await stopRawServer(listener, conns, accepting);
  }
});

/** Stops a raw test server: its listener, every connection it accepted, then its accept loop. */
async function stopRawServer(
  listener: Deno.Listener,
  conns: Deno.Conn[],
  accepting: Promise<unknown>,
): Promise<void> {
  listener.close();
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  await accepting.catch(() => {});
}
