import assert from "node:assert/strict";
import { reportBytes as testReportBytes } from "../tests/report_bytes.ts";
import { type ContentKey, createContentKey } from "../envelope/jwe.ts";
import { signReport } from "../envelope/report_message.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { API, OPS_PATHS } from "../protocol/paths.ts";
import {
  type BundleEntry,
  encodeBundle,
  entryOfJws,
  sealBundle,
} from "../protocol/report_bundle.ts";
import { type Store } from "../store/mod.ts";
import { createServerApp } from "./app.ts";
import { createOpsApp } from "./ops_app.ts";
import { openTestServer, registerTestComputer, type TestComputer } from "./_test_server.ts";

interface Fixture extends AsyncDisposable {
  store: Store;
  app: ReturnType<typeof createServerApp>;
  ops: ReturnType<typeof createOpsApp>;
  kid: string;
  contentKey: ContentKey;
  relay: TestComputer;
  clients: TestComputer[];
}

async function setUp(): Promise<Fixture> {
  const server = await openTestServer("mle-bundle-test-");
  const { store } = server;
  const relay = await registerTestComputer(store, "relay");
  await store.setBundleSender(relay.id, true, Date.now());
  const clients = [await registerTestComputer(store, "a"), await registerTestComputer(store, "b")];
  const { contentKey } = await createContentKey(server.pair.publicKey, server.kid);
  return { ...server, contentKey, relay, clients };
}

const reportBytes = (cid: number, seq: number, secret = "s") =>
  testReportBytes(cid, seq, { Secret: secret });

async function entry(
  fixture: Fixture,
  client: TestComputer,
  seq: number,
  options: { kid?: string | null; cid?: number } = {},
): Promise<BundleEntry> {
  const cid = options.cid ?? client.id;
  const jws = await signReport(
    client.keys.privateKey,
    { cid, seq, kid: options.kid === undefined ? fixture.kid : options.kid },
    reportBytes(cid, seq),
  );
  return entryOfJws(jws);
}

async function post(
  fixture: Fixture,
  entries: BundleEntry[],
  signer: CryptoKey = fixture.relay.keys.privateKey,
): Promise<Response> {
  return await postPlaintext(fixture, await encodeBundle(entries), entries.length, signer);
}

/** Posts a bundle of `plaintext` (claiming `n` reports) sealed and signed as the relay would. */
async function postPlaintext(
  fixture: Fixture,
  plaintext: Uint8Array<ArrayBuffer>,
  n: number,
  signer: CryptoKey = fixture.relay.keys.privateKey,
): Promise<Response> {
  const message = await sealBundle(
    fixture.contentKey,
    signer,
    { cid: fixture.relay.id, bid: crypto.randomUUID(), n },
    plaintext,
  );
  return await fixture.app.request(API.bundles, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
}

/** The server's metrics, as its ops listener answers them. */
async function metricsOf(fixture: Fixture) {
  return await (await fixture.ops.request(OPS_PATHS.metrics)).json();
}

Deno.test("a bundle's reports are stored once each, with one outcome per report, and counted", async () => {
  await using fixture = await setUp();
  const [a, b] = fixture.clients;
  const entries = [
    await entry(fixture, a, 1),
    await entry(fixture, a, 2),
    await entry(fixture, b, 1),
  ];
  const response = await post(fixture, entries);
  assert.equal(response.status, 200);
  const answer = await response.json();
  assert.deepEqual(answer.results, [
    { cid: a.id, seq: 1, status: "stored" },
    { cid: a.id, seq: 2, status: "stored" },
    { cid: b.id, seq: 1, status: "stored" },
  ]);
  const stored = await fixture.store.listReports(a.id);
  assert.deepEqual(stored.map((r) => [r.seq, r.encrypted, r.kid]), [
    [1, true, fixture.kid],
    [2, true, fixture.kid],
  ]);
  assert.equal((await fixture.store.getComputer(a.id))?.lastKid, fixture.kid);

  // A resend (the relay lost the answer) stores nothing twice.
  const again = await (await post(fixture, entries)).json();
  assert.deepEqual(again.results.map((r: { status: string }) => r.status), [
    "duplicate",
    "duplicate",
    "duplicate",
  ]);
  assert.equal(await fixture.store.countReports(), 3);
  const metrics = await metricsOf(fixture);
  assert.equal(metrics.bundlesOpened, 2);
  assert.equal(metrics.reportsInBundles, 6);
  assert.equal(metrics.bundleReportsRefused, 0);
});

Deno.test("a tampered, re-attributed or clear-text report inside a bundle is refused while the others are stored", async () => {
  await using fixture = await setUp();
  const [a, b] = fixture.clients;
  const good = await entry(fixture, a, 1);
  const tampered = await entry(fixture, a, 2);
  tampered.payload = reportBytes(a.id, 2, "altered by the relay");
  // b signs a report that claims to be a's: a's key does not verify it.
  const reattributed = await entry(fixture, b, 3, { cid: a.id });
  const clear = await entry(fixture, b, 4, { kid: null });
  const otherKey = await entry(fixture, b, 5, { kid: "f".repeat(40) });
  const response = await post(fixture, [good, tampered, reattributed, clear, otherKey]);
  assert.equal(response.status, 200);
  const { results } = await response.json();
  assert.deepEqual(results.map((r: { status: string; code?: string }) => [r.status, r.code]), [
    ["stored", undefined],
    ["refused", "ERR_SIGNATURE_INVALID"],
    ["refused", "ERR_SIGNATURE_INVALID"],
    ["refused", "ERR_UNKNOWN_KEY_ID"],
    ["refused", "ERR_UNKNOWN_KEY_ID"],
  ]);
  assert.equal(await fixture.store.countReports(), 1);
  const metrics = await metricsOf(fixture);
  assert.equal(metrics.bundleReportsRefused, 4);
});

Deno.test("a bundle from a computer not allowed to send them, or signed by another key, is refused whole", async () => {
  await using fixture = await setUp();
  const [a] = fixture.clients;
  const entries = [await entry(fixture, a, 1)];
  const stranger = await generateSigningKeyPair();
  const forged = await post(fixture, entries, stranger.privateKey);
  assert.equal(forged.status, 403);
  assert.equal((await forged.json()).error.code, "ERR_SIGNATURE_INVALID");

  await fixture.store.setBundleSender(fixture.relay.id, false, Date.now());
  const refused = await post(fixture, entries);
  assert.equal(refused.status, 403);
  const body = await refused.json();
  assert.equal(body.error.code, "ERR_RELAY_NOT_ALLOWED");
  assert.match(body.error.message, new RegExp(`mle-admin relays allow ${fixture.relay.id}`));
  assert.equal(await fixture.store.countReports(), 0);
  const metrics = await metricsOf(fixture);
  assert.equal(metrics.bundlesOpened, 0);
});

Deno.test("a bundle whose member expands beyond the bound is refused (no decompression bomb)", async () => {
  await using fixture = await setUp();
  const huge = new Uint8Array(64 * 1024 * 1024).fill(0x41);
  huge[3] = 0x0a;
  const gz = new Uint8Array(
    await new Response(new Blob([huge]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  const magic = new TextEncoder().encode("MLE-BUNDLE/1\n");
  const plaintext = new Uint8Array(magic.length + 4 + gz.length);
  plaintext.set(magic);
  new DataView(plaintext.buffer).setUint32(magic.length, gz.length);
  plaintext.set(gz, magic.length + 4);
  const response = await postPlaintext(fixture, plaintext, 1);
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body.error.code, "ERR_ENVELOPE_MALFORMED");
  assert.match(body.error.message, /corrupt or too large/);
});

Deno.test("bundle ingest refuses bodies that are not bundles", async () => {
  await using fixture = await setUp();
  const cases: [string, number, string][] = [
    ["not json", 400, "ERR_ENVELOPE_MALFORMED"],
    ["{}", 400, "ERR_ENVELOPE_MALFORMED"],
  ];
  for (const [body, status, code] of cases) {
    const response = await fixture.app.request(API.bundles, { method: "POST", body });
    assert.equal(response.status, status, body);
    assert.equal((await response.json()).error.code, code, body);
  }
});
