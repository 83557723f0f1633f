import assert from "node:assert/strict";
import { countingStream } from "../tests/fuzz.ts";
import { waitUntil } from "../tests/eventually.ts";
import {
  declaredLength,
  INITIAL_READ_BYTES,
  initialReadBytes,
  readBounded,
  readRequestBody,
} from "./read_bounded.ts";

Deno.test("readBounded returns the body within the bound and null past it", async () => {
  const body = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31 + 1) & 0xff);
  assert.deepEqual(
    await readBounded(countingStream([body.subarray(0, 10), body.subarray(10)]).stream, 100_000),
    body,
  );
  assert.equal(await readBounded(countingStream([body]).stream, 99_999), null);
  assert.deepEqual(await readBounded(null, 10), new Uint8Array(0));
});

Deno.test("readBounded stops reading as soon as the bound is passed", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 1000) controller.close();
      else controller.enqueue(new Uint8Array(1024));
    },
  });
  assert.equal(await readBounded(endless, 8 * 1024), null);
  assert.ok(pulled <= 12, `pulled ${pulled} pieces for an 8 KiB bound`);
});

Deno.test("initialReadBytes takes a small declared length as the buffer's size, and nothing else", () => {
  assert.equal(initialReadBytes("3041", 65_536), 3041);
  assert.equal(initialReadBytes(" 0 ", 65_536), 0);
  for (const header of [null, undefined, "", "-1", "3e3", "0x10", "1.5", "9999999999", "12 34"]) {
    assert.equal(initialReadBytes(header, 65_536), INITIAL_READ_BYTES, String(header));
  }
  // Over the bound, or larger than the usual start: no more is set aside than without a header.
  assert.equal(initialReadBytes("70000", 65_536), INITIAL_READ_BYTES);
  assert.equal(initialReadBytes("60000", 65_536), INITIAL_READ_BYTES);
});

Deno.test("readBounded with a buffer sized by a declared length: exact, and still bounded when the length lies", async () => {
  const body = Uint8Array.from({ length: 3041 }, (_, i) => i & 0xff);
  const exact = await readBounded(countingStream([body]).stream, 65_536, body.length);
  assert.deepEqual(exact, body);
  assert.equal(exact!.buffer.byteLength, body.length, "the buffer is the body, no larger");
  // Declared shorter than sent (a stream without framing): it grows, within the bound.
  assert.deepEqual(await readBounded(countingStream([body]).stream, 65_536, 0), body);
  assert.equal(await readBounded(countingStream([body, body]).stream, 5000, 10), null);
  // Declared longer than sent: what came.
  assert.deepEqual(await readBounded(countingStream([body]).stream, 65_536, 4000), body);
});

Deno.test("readRequestBody gives a body within the bound, however its length is told, and null past it", async () => {
  const body = Uint8Array.from({ length: 3041 }, (_, i) => (i * 7) & 0xff);
  const post = (bytes: BodyInit, headers: HeadersInit = {}) =>
    new Request("http://127.0.0.1/", { method: "POST", body: bytes, headers });
  const declared = { "content-length": String(body.length) };
  assert.deepEqual(await readRequestBody(post(body, declared), 65_536), body);
  assert.deepEqual(await readRequestBody(post(countingStream([body]).stream), 65_536), body);
  assert.deepEqual(
    await readRequestBody(post(new Uint8Array(0), { "content-length": "0" }), 10),
    new Uint8Array(0),
  );
  assert.deepEqual(await readRequestBody(new Request("http://127.0.0.1/"), 10), new Uint8Array(0));
  // Past the bound: declared, undeclared, and declared small but longer (a Request made in the
  // process has no HTTP framing to hold it to its declared length).
  assert.equal(await readRequestBody(post(body, declared), 3040), null);
  assert.equal(await readRequestBody(post(countingStream([body, body]).stream), 5000), null);
  assert.equal(await readRequestBody(post(body, { "content-length": "10" }), 3040), null);
  // A declared length over the bound is refused without reading: here the body is small.
  let pulled = 0;
  const watched = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(body);
      controller.close();
    },
  }, { highWaterMark: 0 });
  assert.equal(await readRequestBody(post(watched, { "content-length": "70000" }), 65_536), null);
  assert.equal(pulled, 0, "nothing was read");
  const big = new Uint8Array(INITIAL_READ_BYTES * 3).fill(7);
  assert.deepEqual(
    await readRequestBody(post(big, { "content-length": String(big.length) }), big.length),
    big,
  );
});

Deno.test("readRequestBody over HTTP: framed at the declared length, chunked bodies bounded, and a declared length not set aside before its bytes come", async () => {
  const maxBytes = 8 * 1024 * 1024;
  let entered = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    entered++;
    try {
      const body = await readRequestBody(request, maxBytes);
      return new Response(body === null ? "too large" : `${body.length} bytes`);
    } catch {
      return new Response("failed");
    }
  });
  const open: Deno.Conn[] = [];
  const connect = async (head: string, body: Uint8Array = new Uint8Array(0)) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    open.push(conn);
    const text = new TextEncoder().encode(`POST / HTTP/1.1\r\nhost: test\r\n${head}\r\n`);
    const request = new Uint8Array(text.length + body.length);
    request.set(text);
    request.set(body, text.length);
    for (let written = 0; written < request.length;) {
      written += await conn.write(request.subarray(written));
    }
    return conn;
  };
  // The answer's body, or "no answer" when none came within 10 s (the connection is closed).
  const answer = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(4096);
    let text = "";
    const deadline = setTimeout(() => conn.close(), 10_000);
    try {
      while (!/\r\n\r\n[^]*(bytes|large|failed)$/.test(text)) {
        const read = await conn.read(buffer);
        if (read === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, read));
      }
    } catch {
      return "no answer";
    } finally {
      clearTimeout(deadline);
    }
    return text.slice(text.indexOf("\r\n\r\n") + 4);
  };
  try {
    const report = new Uint8Array(3041).fill(65);
    assert.equal(await answer(await connect("content-length: 3041\r\n", report)), "3041 bytes");
    // What follows the declared length is not the body.
    const more = new TextEncoder().encode("0123456789 and more that is no body");
    assert.equal(await answer(await connect("content-length: 10\r\n", more)), "10 bytes");
    const chunk = new Uint8Array(1024 * 1024).fill(66);
    const chunked = (count: number) => {
      const size = new TextEncoder().encode(`${chunk.length.toString(16)}\r\n`);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < count; i++) parts.push(size, chunk, new TextEncoder().encode("\r\n"));
      parts.push(new TextEncoder().encode("0\r\n\r\n"));
      const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
      parts.reduce((at, part) => (all.set(part, at), at + part.length), 0);
      return all;
    };
    assert.equal(
      await answer(await connect("transfer-encoding: chunked\r\n", chunked(2))),
      "2097152 bytes",
    );
    assert.equal(
      await answer(await connect("transfer-encoding: chunked\r\n", chunked(9))),
      "too large",
    );
    // Declared over the bound: refused at once, though its bytes never come.
    assert.equal(await answer(await connect("content-length: 9000000\r\n")), "too large");

    // Forty senders each declare 8 MB and send three bytes: the runtime's collector would set the
    // 8 MB aside for each at once (320 MB); what is set aside is what came.
    const before = Deno.memoryUsage().rss;
    const enteredBefore = entered;
    for (let i = 0; i < 40; i++) {
      await connect("content-length: 8000000\r\n", new Uint8Array([1, 2, 3]));
    }
    await waitUntil(() => entered - enteredBefore === 40, "forty requests to be read");
    const grown = (Deno.memoryUsage().rss - before) / (1024 * 1024);
    assert.ok(grown < 64, `the server's memory grew by ${grown.toFixed(0)} MiB`);
  } finally {
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // closed already, by a deadline
      }
    }
    await server.shutdown();
  }
});

Deno.test("declaredLength reads a Content-Length of up to nine digits and nothing else", () => {
  assert.equal(declaredLength("3041"), 3041);
  assert.equal(declaredLength(" 12 "), 12);
  assert.equal(declaredLength("0"), 0);
  assert.equal(declaredLength("999999999"), 999_999_999);
  for (const value of [null, undefined, "", "-1", "+1", "1e3", "0x10", "1 2", "1234567890"]) {
    assert.equal(declaredLength(value), null, String(value));
  }
});
