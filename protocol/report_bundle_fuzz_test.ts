import assert from "node:assert/strict";
import { serverContentKey as contentKey } from "../envelope/_test_keys.ts";
import {
  anyBytes,
  anyText,
  fc,
  fuzzParser,
  joseInputs,
  mleError,
  noError,
  SEALED_MEMBERS,
} from "../tests/fuzz.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import {
  type BundleEntry,
  decodeBundle,
  encodeBundle,
  MAX_BUNDLE_ENTRY_BYTES,
  MAX_BUNDLE_PLAINTEXT_BYTES,
  readBundleMessage,
  sealBundle,
} from "./report_bundle.ts";

const malformed = mleError("ERR_ENVELOPE_MALFORMED");
const MAGIC = new TextEncoder().encode("MLE-BUNDLE/1\n");

const entries: fc.Arbitrary<BundleEntry[]> = fc.array(
  fc.record({
    protected: fc.oneof(fc.constant("eyJ0eXAiOiJ4In0"), anyText),
    payload: anyBytes,
    signature: fc.oneof(fc.constant("c2ln"), anyText),
  }),
  { minLength: 1, maxLength: 4 },
);

/** One edit of bundle bytes: a byte changed, a cut, bytes inserted. */
const edits = fc.oneof(
  fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ cut: fc.nat() }),
  fc.record({ at: fc.nat(), insert: anyBytes }),
  fc.constant({}),
);

function applyEdit(bytes: Uint8Array, edit: Record<string, unknown>): Uint8Array {
  if (typeof edit.xor === "number") {
    const copy = bytes.slice();
    copy[(edit.at as number) % copy.length] ^= edit.xor;
    return copy;
  }
  if (typeof edit.cut === "number") return bytes.slice(0, (edit.cut as number) % bytes.length);
  if (edit.insert instanceof Uint8Array) {
    const at = (edit.at as number) % bytes.length;
    const inserted = edit.insert as Uint8Array;
    const out = new Uint8Array(bytes.length + inserted.length);
    out.set(bytes.subarray(0, at));
    out.set(inserted, at);
    out.set(bytes.subarray(at), at + inserted.length);
    return out;
  }
  return bytes;
}

function withMagic(rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(MAGIC.length + rest.length);
  out.set(MAGIC);
  out.set(rest, MAGIC.length);
  return out;
}

Deno.test("fuzz: decodeBundle() gives entries or refuses with ERR_ENVELOPE_MALFORMED", async () => {
  const inputs = fc.oneof(
    fc.record({ entries, edit: edits, expected: fc.option(fc.integer({ min: 0, max: 6 })) }),
    fc.record({ raw: fc.oneof(anyBytes, anyBytes.map(withMagic)) }),
  );
  await fuzzParser("decodeBundle", inputs, async (input) => {
    const plaintext = "raw" in input
      ? input.raw
      : applyEdit(await encodeBundle(input.entries), input.edit);
    const expected = "expected" in input ? input.expected ?? undefined : undefined;
    const decoded = await decodeBundle(plaintext, expected);
    assert.ok(decoded.length >= 1 && (expected === undefined || decoded.length === expected));
    for (const entry of decoded) {
      assert.match(entry.protected, /^[A-Za-z0-9_-]+$/);
      assert.ok(entry.payload.length <= MAX_BUNDLE_ENTRY_BYTES);
    }
  }, malformed);
});

Deno.test("fuzz: decodeBundle() takes a report up to its bound and refuses one byte more as too large", async () => {
  const head = new TextEncoder().encode("eyJ0eXAiOiJ4In0.c2ln\n").length;
  const inputs = fc.tuple(fc.integer({ min: -2, max: 2 }), fc.integer({ min: 0, max: 255 }));
  await fuzzParser(
    "decodeBundle at MAX_BUNDLE_ENTRY_BYTES",
    inputs,
    async ([delta, fill]) => {
      const payload = new Uint8Array(MAX_BUNDLE_ENTRY_BYTES - head + delta).fill(fill);
      const bundle = await encodeBundle([{
        protected: "eyJ0eXAiOiJ4In0",
        payload,
        signature: "c2ln",
      }]);
      try {
        const [entry] = await decodeBundle(bundle, 1);
        assert.ok(delta <= 0, "a report over the bound was accepted");
        assert.equal(entry.payload.length, payload.length);
      } catch (error) {
        assert.ok(delta > 0, `a report within the bound was refused: ${error}`);
        assert.match((error as Error).message, /too large/);
        throw error;
      }
    },
    malformed,
    { runs: 20 },
  );
});

Deno.test("fuzz: decodeBundle() refuses a plaintext over its bound as too large, unread", async () => {
  const largest = new Uint8Array(MAX_BUNDLE_PLAINTEXT_BYTES + 64);
  largest.set(MAGIC);
  await fuzzParser(
    "decodeBundle over MAX_BUNDLE_PLAINTEXT_BYTES",
    fc.integer({ min: 1, max: 64 }),
    async (extra) => {
      await assert.rejects(
        decodeBundle(largest.subarray(0, MAX_BUNDLE_PLAINTEXT_BYTES + extra)),
        (error: Error) => malformed(error) && /too large/.test(error.message),
      );
    },
    noError,
  );
});

const relay = await generateSigningKeyPair();
const SEALED = await sealBundle(
  contentKey,
  relay.privateKey,
  { cid: 5, bid: "00000000-0000-4000-8000-000000000000", n: 1 },
  await encodeBundle([{
    protected: "eyJ0eXAiOiJ4In0",
    payload: new Uint8Array(2),
    signature: "c2ln",
  }]),
);

Deno.test("fuzz: readBundleMessage() reads valid claims, or refuses with a typed error", async () => {
  const inputs = joseInputs([SEALED], [SEALED_MEMBERS]);
  await fuzzParser("readBundleMessage", inputs, (value) => {
    const { claims } = readBundleMessage(value);
    assert.ok(Number.isSafeInteger(claims.cid) && claims.cid >= 1);
    assert.ok(claims.n >= 1 && claims.n <= 1000);
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_DECRYPTION_FAILED"));
});
