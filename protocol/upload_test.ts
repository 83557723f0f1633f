import assert from "node:assert/strict";
import {
  checkManifest,
  chunkCountOf,
  chunkLengthOf,
  clientUploadLimits,
  parseByteSize,
  readUploadLimits,
  stricterLimits,
} from "./upload.ts";
import { readExactBody } from "./upload_fetch.ts";

Deno.test("chunkCountOf() and chunkLengthOf() cut a file into full chunks and a shorter last one", () => {
  assert.equal(chunkCountOf(0, 1024), 1);
  assert.equal(chunkCountOf(1024, 1024), 1);
  assert.equal(chunkCountOf(1025, 1024), 2);
  assert.equal(chunkLengthOf(2500, 1024, 0), 1024);
  assert.equal(chunkLengthOf(2500, 1024, 2), 452);
  assert.equal(chunkLengthOf(0, 1024, 0), 0);
});

Deno.test("the smaller of the client's and upstream's chunk size and throttle wins", () => {
  const upstream = { maxChunkBytes: 65536, throttleKBPS: 100 };
  assert.deepEqual(clientUploadLimits({}, upstream), { chunkSize: 65536, throttleKBPS: 100 });
  assert.deepEqual(
    clientUploadLimits(
      { _BESClient_UploadManager_ChunkSize: "4096", _BESClient_UploadManager_ThrottleKBPS: "500" },
      upstream,
    ),
    { chunkSize: 4096, throttleKBPS: 100 },
  );
  assert.deepEqual(
    clientUploadLimits(
      { _BESClient_UploadManager_ThrottleKBPS: "20" },
      { maxChunkBytes: 4194304, throttleKBPS: 0 },
    ),
    { chunkSize: 131072, throttleKBPS: 20 },
  );
  assert.throws(
    () => clientUploadLimits({ _BESClient_UploadManager_ChunkSize: "12" }, upstream),
    RangeError,
  );
  assert.throws(
    () => clientUploadLimits({ _BESClient_UploadManager_ThrottleKBPS: "-1" }, upstream),
    RangeError,
  );
  assert.deepEqual(stricterLimits({ maxChunkBytes: 1024, throttleKBPS: 0 }, upstream), {
    maxChunkBytes: 1024,
    throttleKBPS: 100,
  });
  assert.deepEqual(readUploadLimits({ maxChunkBytes: "big" }), {
    maxChunkBytes: 4194304,
    throttleKBPS: 0,
  });
});

Deno.test("checkManifest() refuses a manifest that disagrees with its envelope or itself", () => {
  const claims = { cid: 3, uid: "00112233445566778899aabbccddeeff", kid: null, cs: 1024, cc: 3 };
  const good = {
    v: 1,
    uid: claims.uid,
    cid: 3,
    name: "a",
    size: 2500,
    sha256: "0".repeat(64),
    chunkSize: 1024,
    chunkCount: 3,
    createdAt: "2026-01-01T00:00:00Z",
  };
  assert.equal(checkManifest(good, claims), null);
  for (const change of [{ cid: 4 }, { size: 5000 }, { sha256: "x" }, { name: "" }, { v: 2 }]) {
    assert.notEqual(checkManifest({ ...good, ...change }, claims), null, JSON.stringify(change));
  }
});

Deno.test("parseByteSize() reads sizes with binary suffixes and refuses anything else", () => {
  assert.equal(parseByteSize("512"), 512);
  assert.equal(parseByteSize("64K"), 65536);
  assert.equal(parseByteSize("10G"), 10 * 1024 ** 3);
  assert.equal(parseByteSize("1MiB"), 1048576);
  for (const text of ["", "-1", "1.5G", "ten", "1X"]) {
    assert.throws(() => parseByteSize(text), RangeError);
  }
});

Deno.test("readExactBody() takes a body of exactly the declared length, and refuses one longer or shorter", async () => {
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) % 251);
  /** A byte stream (as request bodies are) giving `data` in pieces of `piece` bytes. */
  const stream = (data: Uint8Array, piece: number) => {
    let at = 0;
    return new ReadableStream({
      type: "bytes",
      pull(controller) {
        if (at >= data.length) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        const end = Math.min(data.length, at + piece);
        controller.enqueue(data.slice(at, end));
        at = end;
      },
    });
  };
  for (const piece of [1000, 65536, 100_000]) {
    assert.deepEqual(await readExactBody(stream(bytes, piece), bytes.length), bytes);
    assert.equal(await readExactBody(stream(bytes, piece), bytes.length - 1), null);
    assert.equal(await readExactBody(stream(bytes, piece), bytes.length + 1), null);
  }
  // Not a byte stream: the general reader, same answers.
  const plain = (data: Uint8Array) => ReadableStream.from([data.slice(0, 10), data.slice(10)]);
  assert.deepEqual(await readExactBody(plain(bytes), bytes.length), bytes);
  assert.equal(await readExactBody(plain(bytes), bytes.length - 1), null);
  assert.equal((await readExactBody(null, 0))?.length, 0);
  assert.equal(await readExactBody(null, 1), null);
});
