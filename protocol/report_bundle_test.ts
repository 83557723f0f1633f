import assert from "node:assert/strict";
import { newServerContentKey } from "../envelope/_test_keys.ts";
import { MleError } from "../envelope/errors.ts";
import { decryptJwe } from "../envelope/jwe.ts";
import { sealReport, signReport } from "../envelope/report_message.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { verifyJws } from "../envelope/jws.ts";
import {
  type BundleEntry,
  decodeBundle,
  encodeBundle,
  entryOfJws,
  jwsOfEntry,
  MAX_BUNDLE_ENTRY_BYTES,
  readBundleMessage,
  sealBundle,
  verifyBundleSignature,
} from "./report_bundle.ts";

const encoder = new TextEncoder();

async function signedEntry(
  key: CryptoKey,
  seq: number,
  body = `{"seq":${seq}}`,
): Promise<BundleEntry> {
  const jws = await signReport(key, { cid: 7, seq, kid: "a".repeat(40) }, encoder.encode(body));
  return entryOfJws(jws);
}

async function gzipBytes(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function frame(members: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const magic = encoder.encode("MLE-BUNDLE/1\n");
  const size = magic.length + members.reduce((sum, m) => sum + 4 + m.length, 0);
  const out = new Uint8Array(size);
  out.set(magic);
  let offset = magic.length;
  for (const member of members) {
    new DataView(out.buffer).setUint32(offset, member.length);
    out.set(member, offset + 4);
    offset += 4 + member.length;
  }
  return out;
}

Deno.test("encodeBundle() and decodeBundle() round-trip signed reports byte for byte", async () => {
  const client = await generateSigningKeyPair();
  const entries = [
    await signedEntry(client.privateKey, 1),
    await signedEntry(client.privateKey, 2),
  ];
  const decoded = await decodeBundle(await encodeBundle(entries), 2);
  assert.equal(decoded.length, 2);
  for (const [index, entry] of decoded.entries()) {
    const { header, payload } = await verifyJws(client.publicKey, jwsOfEntry(entry), "mle-report");
    assert.equal(header.seq, index + 1);
    assert.deepEqual(payload, entries[index].payload);
  }
});

Deno.test("decodeBundle() refuses a member that expands beyond the bound (decompression bomb)", async () => {
  const bomb = await gzipBytes(
    new Uint8Array(MAX_BUNDLE_ENTRY_BYTES * 8).fill(0x41).map((v, i) => i === 3 ? 0x0a : v),
  );
  assert.ok(bomb.length < 64 * 1024, "the bomb is small on the wire");
  await assert.rejects(
    decodeBundle(frame([bomb])),
    (error: unknown) =>
      error instanceof MleError && error.code === "ERR_ENVELOPE_MALFORMED" &&
      /corrupt or too large/.test(error.message),
  );
});

Deno.test("decodeBundle() refuses malformed layouts with exact errors", async () => {
  const client = await generateSigningKeyPair();
  const good = await encodeBundle([await signedEntry(client.privateKey, 1)]);
  const member = good.slice(13 + 4);
  const cases: [string, Uint8Array, RegExp, number?][] = [
    ["no magic", encoder.encode("NOT-A-BUNDLE\n"), /begin with/],
    ["empty", frame([]), /holds no reports/],
    ["length past the end", good.slice(0, good.length - 1), /runs past the end/],
    ["cut-off length", new Uint8Array([...good, 0, 0]), /length is cut off/],
    ["junk after a gzip member", frame([new Uint8Array([...member, 1, 2, 3])]), /corrupt/],
    ["not gzip", frame([encoder.encode("hello")]), /corrupt/],
    ["no header line", frame([await gzipBytes(encoder.encode("abc"))]), /no header line/],
    ["bad header line", frame([await gzipBytes(encoder.encode("a b.c\n{}"))]), /bad header line/],
    ["count differs", good, /header says 2 reports, it holds 1/, 2],
    ["more than expected", frame([member, member]), /more than 1 reports/, 1],
  ];
  for (const [name, bytes, pattern, expected] of cases) {
    await assert.rejects(
      decodeBundle(bytes, expected),
      (error: unknown) =>
        error instanceof MleError && error.code === "ERR_ENVELOPE_MALFORMED" &&
        pattern.test(error.message),
      name,
    );
  }
});

Deno.test("sealBundle() output is read, verified and decrypted; a tampered bundle is refused", async () => {
  const relay = await generateSigningKeyPair();
  const other = await generateSigningKeyPair();
  const { contentKey } = await newServerContentKey();
  const plaintext = await encodeBundle([await signedEntry(relay.privateKey, 1)]);
  const bid = crypto.randomUUID();
  const message = await sealBundle(contentKey, relay.privateKey, { cid: 3, bid, n: 1 }, plaintext);

  const parsed = readBundleMessage(JSON.parse(JSON.stringify(message)));
  assert.deepEqual(parsed.claims, { cid: 3, bid, n: 1 });
  await verifyBundleSignature(relay.publicKey, parsed.message);
  await assert.rejects(verifyBundleSignature(other.publicKey, parsed.message), /relay signature/);
  assert.deepEqual(await decryptJwe(parsed.message, contentKey.key), plaintext);

  const tampered = {
    ...message,
    ciphertext: message.ciphertext.replace(/^./, (c) => c === "A" ? "B" : "A"),
  };
  await assert.rejects(verifyBundleSignature(relay.publicKey, tampered), /relay signature/);
  assert.throws(() => readBundleMessage({ ...message, sig: undefined }), /"sig"/);
});

Deno.test("sealBundle() refuses bad claims and readBundleMessage() a report envelope", async () => {
  const relay = await generateSigningKeyPair();
  const { contentKey } = await newServerContentKey();
  const plaintext = await encodeBundle([await signedEntry(relay.privateKey, 1)]);
  await assert.rejects(
    sealBundle(contentKey, relay.privateKey, { cid: 0, bid: crypto.randomUUID(), n: 1 }, plaintext),
    /cid must be/,
  );
  await assert.rejects(
    sealBundle(contentKey, relay.privateKey, { cid: 1, bid: "x", n: 1 }, plaintext),
    /bid must be/,
  );
  await assert.rejects(
    sealBundle(
      contentKey,
      relay.privateKey,
      { cid: 1, bid: crypto.randomUUID(), n: 5000 },
      plaintext,
    ),
    /n must be/,
  );
  const report = await sealReport(
    contentKey,
    relay.privateKey,
    { cid: 1, seq: 1 },
    new TextEncoder().encode("{}"),
  );
  assert.throws(() => readBundleMessage(report), /expected cty "mle-bundle\+gzip"/);
});
