import assert from "node:assert/strict";
import { anyText, documentBodies, errorOf, fc, fuzzParser, noError } from "../tests/fuzz.ts";
import {
  checkClaims,
  checkManifest,
  MAX_CHUNK_COUNT,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  parseByteSize,
  parseChunkPath,
  readUploadLimits,
} from "./upload.ts";

const UID = "00112233445566778899aabbccddeeff";
const CLAIMS = { cid: 7, uid: UID, kid: null, cs: 1024, cc: 3 };
const MANIFEST = {
  v: 1,
  uid: UID,
  cid: 7,
  name: "a.log",
  size: 3000,
  sha256: "0".repeat(64),
  chunkSize: 1024,
  chunkCount: 3,
  createdAt: "2024-01-01T00:00:00.000Z",
};

Deno.test("fuzz: checkClaims() and checkManifest() answer null or a reason, and never throw", async () => {
  const inputs = fc.tuple(
    documentBodies(CLAIMS),
    documentBodies(MANIFEST),
  );
  await fuzzParser("checkClaims+checkManifest", inputs, ([claims, manifest]) => {
    const object = (typeof claims === "object" && claims !== null ? claims : {}) as Record<
      string,
      unknown
    >;
    const problem = checkClaims(object);
    if (problem !== null) return assert.equal(typeof problem, "string");
    const checked = object as typeof CLAIMS;
    assert.ok(checked.cs >= MIN_CHUNK_SIZE && checked.cs <= MAX_CHUNK_SIZE);
    assert.ok(checked.cc >= 1 && checked.cc <= MAX_CHUNK_COUNT);
    const reason = checkManifest(manifest, { ...checked, kid: checked.kid ?? null });
    assert.ok(reason === null || typeof reason === "string");
  }, noError);
});

Deno.test("fuzz: parseChunkPath() gives a well-formed chunk address or null, and never throws", async () => {
  const part = fc.oneof(anyText, fc.nat().map(String), fc.constant(UID), fc.bigInt().map(String));
  const inputs = fc.tuple(part, part, fc.option(part, { nil: undefined }));
  await fuzzParser("parseChunkPath", inputs, ([cid, uid, index]) => {
    const path = parseChunkPath(cid, uid, index);
    if (path === null) return;
    assert.ok(Number.isSafeInteger(path.cid) && path.cid >= 1);
    assert.equal(path.uid, uid);
    assert.ok(
      index === undefined ? path.index === -1 : path.index >= 0 && path.index < MAX_CHUNK_COUNT,
    );
  }, noError);
});

Deno.test("fuzz: readUploadLimits() gives limits within the protocol's bounds, and never throws", async () => {
  const inputs = fc.oneof(
    documentBodies({ maxChunkBytes: 65536, throttleKBPS: 100 }),
    fc.record({ maxChunkBytes: fc.double(), throttleKBPS: fc.double() }),
  );
  await fuzzParser("readUploadLimits", inputs, (value) => {
    const limits = readUploadLimits(value);
    assert.ok(limits.maxChunkBytes >= MIN_CHUNK_SIZE && limits.maxChunkBytes <= MAX_CHUNK_SIZE);
    assert.ok(Number.isSafeInteger(limits.throttleKBPS) && limits.throttleKBPS >= 0);
  }, noError);
});

Deno.test("fuzz: parseByteSize() gives a safe whole number or a RangeError", async () => {
  const texts = fc.oneof(
    anyText,
    fc.tuple(
      fc.bigInt({ min: 0n, max: 10n ** 17n }),
      fc.constantFrom("", "K", "M", "G", "T", "KiB", "b", " gb"),
    ).map(
      ([n, suffix]) => `${n}${suffix}`,
    ),
  );
  await fuzzParser("parseByteSize", texts, (text) => {
    const size = parseByteSize(text);
    assert.ok(Number.isSafeInteger(size) && size >= 0);
  }, errorOf(RangeError));
});
