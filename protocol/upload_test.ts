import assert from "node:assert/strict";
import {
  alternativeName,
  checkManifest,
  ChunkBitmap,
  chunkCountOf,
  chunkLengthOf,
  clientUploadLimits,
  MAX_STORED_NAME_BYTES,
  parseByteSize,
  readUploadLimits,
  readUploadStatus,
  sanitizeUploadName,
  stricterLimits,
} from "./upload.ts";
import { readExactBody } from "./upload_fetch.ts";

Deno.test("sanitizeUploadName() rewrites every unsafe name into one plain file name", () => {
  const cases: Array<[string, string]> = [
    ["app.log", "app.log"],
    ["../../etc/passwd", "_.._etc_passwd"],
    ["..", "upload"],
    [".", "upload"],
    ["/etc/passwd", "_etc_passwd"],
    ["C:\\Windows\\system32\\config", "C__Windows_system32_config"],
    ["\\\\server\\share\\x", "__server_share_x"],
    ["a\u0000b", "a_b"],
    ["line\nbreak", "line_break"],
    ["bidi\u202Eexe.txt", "bidi_exe.txt"],
    ["CON", "_CON"],
    ["con.txt", "_con.txt"],
    ["NUL", "_NUL"],
    ["COM1.log", "_COM1.log"],
    ["lpt9", "_lpt9"],
    ["CONSOLE.txt", "CONSOLE.txt"],
    ["trailing dots...", "trailing dots"],
    ["  spaces  ", "spaces"],
    [".hidden", "hidden"],
    ['what?*<>|"', "what______"],
  ];
  for (const [declared, expected] of cases) {
    assert.equal(sanitizeUploadName(declared), expected, JSON.stringify(declared));
  }
});

// Found by upload_fuzz_test.ts: cutting a long name to the bound could leave a trailing space or
// dot (which Windows silently drops), or bare a reserved device name, or its "_" pass the bound.
Deno.test("sanitizeUploadName() cuts a long name without leaving a trailing space or dot, or a device name", () => {
  const cases: Array<[string, string]> = [
    ["x".repeat(199) + " !", "x".repeat(199)],
    ["x".repeat(199) + ".yyyyyyyyyyyyyyyyyyyy", "x".repeat(199)],
    ["CON" + " ".repeat(300) + "x", "_CON"],
  ];
  for (const [declared, expected] of cases) {
    assert.equal(sanitizeUploadName(declared), expected, JSON.stringify(declared));
  }
  const device = sanitizeUploadName("CON." + "a".repeat(300));
  assert.ok(device.startsWith("_CON."), device);
  assert.ok(new TextEncoder().encode(device).length <= MAX_STORED_NAME_BYTES);
});

Deno.test("sanitizeUploadName() never yields a separator, a dot name or an over-long name", () => {
  const long = "é".repeat(500) + ".tar.gz";
  const shortened = sanitizeUploadName(long);
  assert.ok(new TextEncoder().encode(shortened).length <= MAX_STORED_NAME_BYTES);
  assert.ok(shortened.endsWith(".gz"));
  for (const name of ["a/b", "a\\b", "../x", "x/..", "/", "\\", "...", "a\u0000"]) {
    const safe = sanitizeUploadName(name);
    assert.ok(!/[\\/]/.test(safe) && !safe.includes("\0"), name);
    assert.ok(safe !== "." && safe !== ".." && safe !== "", name);
  }
});

Deno.test("alternativeName() numbers a taken name before its extension, within the length bound", () => {
  assert.equal(alternativeName("app.log", 2), "app (2).log");
  assert.equal(alternativeName("README", 3), "README (3)");
  const long = alternativeName("x".repeat(MAX_STORED_NAME_BYTES), 999);
  assert.ok(new TextEncoder().encode(long).length <= MAX_STORED_NAME_BYTES);
  assert.ok(long.endsWith(" (999)"));
});

Deno.test("chunkCountOf() and chunkLengthOf() cut a file into full chunks and a shorter last one", () => {
  assert.equal(chunkCountOf(0, 1024), 1);
  assert.equal(chunkCountOf(1024, 1024), 1);
  assert.equal(chunkCountOf(1025, 1024), 2);
  assert.equal(chunkLengthOf(2500, 1024, 0), 1024);
  assert.equal(chunkLengthOf(2500, 1024, 2), 452);
  assert.equal(chunkLengthOf(0, 1024, 0), 0);
});

Deno.test("ChunkBitmap tracks held chunks, survives its bytes, and lists missing ranges", () => {
  const bitmap = new ChunkBitmap(20);
  for (const index of [0, 1, 2, 5, 19]) bitmap.set(index);
  assert.equal(bitmap.set(5), false);
  assert.equal(bitmap.held, 5);
  assert.deepEqual(bitmap.missingRanges(10).ranges, [[3, 5], [6, 19]]);
  assert.deepEqual(bitmap.missingRanges(1), { ranges: [[3, 5]], truncated: true });
  const copy = new ChunkBitmap(20, bitmap.toBytes());
  assert.equal(copy.held, 5);
  assert.ok(copy.has(19) && !copy.has(18));
  for (let i = 0; i < 20; i++) copy.set(i);
  assert.ok(copy.complete);
  assert.deepEqual(copy.missingRanges(10).ranges, []);
  assert.throws(() => new ChunkBitmap(0), RangeError);
  assert.throws(() => new ChunkBitmap(20, new Uint8Array(2)), RangeError);
  const big = new ChunkBitmap(100_000);
  for (let i = 0; i < 99_000; i++) big.set(i);
  assert.deepEqual(big.missingRanges(5).ranges, [[99_000, 100_000]]);
});

Deno.test("readUploadStatus() accepts a well-formed status and refuses malformed ones", () => {
  const good = {
    uploadId: "00112233445566778899aabbccddeeff",
    computerId: 3,
    state: "receiving",
    chunkCount: 10,
    received: 4,
    stored: null,
    missing: [[4, 10]],
    missingTruncated: false,
    error: null,
  };
  assert.equal(readUploadStatus(good)?.received, 4);
  const bad: unknown[] = [
    null,
    { ...good, uploadId: "x" },
    { ...good, state: "done" },
    { ...good, chunkCount: 0 },
    { ...good, received: 11 },
    { ...good, missing: [[5, 4]] },
    { ...good, missing: [[0, 11]] },
    { ...good, missing: [[4, 6], [5, 7]] },
    { ...good, missing: "all" },
    { ...good, stored: -1 },
    { ...good, error: { code: 1 } },
  ];
  for (const value of bad) assert.equal(readUploadStatus(value), null, JSON.stringify(value));
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

// Found by upload_fuzz_test.ts: the stem of "CON<spaces>A..AAA" was cut keeping "." as if it were
// an extension, so the alternative name "CON<spaces>. (10000).AAA" bared the device name CON.
Deno.test("alternativeName() never bares a device name or leaves a dot or space before the number", () => {
  for (let spaces = 150; spaces < 200; spaces++) {
    const name = sanitizeUploadName("CON" + " ".repeat(spaces) + "A..AAA");
    for (const n of [2, 1000, 99999]) {
      const alternative = alternativeName(name, n);
      assert.ok(new TextEncoder().encode(alternative).length <= MAX_STORED_NAME_BYTES);
      assert.doesNotMatch(alternative.split(".")[0].trimEnd(), /^con$/i, alternative);
      assert.doesNotMatch(alternative, /[. ] \(\d+\)/, alternative);
    }
  }
});
