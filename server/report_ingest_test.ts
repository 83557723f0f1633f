/**
 * The direct report path, in-process: what the outer signature binds, and what still refuses a
 * message whose outer signature verifies (the inner signature is not verified twice; see
 * `innerReport` in report_ingest.ts).
 */

import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { type ContentKey, createContentKey, encryptJwe, toCompactJwe } from "../envelope/jwe.ts";
import { signJws, toCompactJws } from "../envelope/jws.ts";
import { REPORT_CONTENT_TYPE, sealReport, signReport } from "../envelope/report_message.ts";
import { generateSigningKeyPair, signBytes } from "../envelope/signature.ts";
import { API } from "../protocol/paths.ts";
import { type Store } from "../store/mod.ts";
import { createServerApp } from "./app.ts";
import { KeyRing } from "./key_ring.ts";
import { openTestServer, registerTestComputer } from "./_test_server.ts";
import { reportBytes } from "../tests/report_bytes.ts";

const encoder = new TextEncoder();

interface Fixture extends AsyncDisposable {
  store: Store;
  keys: KeyRing;
  app: ReturnType<typeof createServerApp>;
  kid: string;
  serverKey: CryptoKey;
  contentKey: ContentKey;
  cid: number;
  client: CryptoKeyPair;
}

async function setUp(): Promise<Fixture> {
  const server = await openTestServer("mle-ingest-test-");
  const { id: cid, keys: client } = await registerTestComputer(server.store, "ingest-test");
  const { contentKey } = await createContentKey(server.pair.publicKey, server.kid);
  return { ...server, serverKey: server.pair.publicKey, contentKey, cid, client };
}

/**
 * An encrypted message built by hand: `inner` is the JWE's plaintext, the envelope names
 * `cid`/`seq`, and the client signs the outer form as a real client does.
 */
async function handMade(
  fixture: Fixture,
  inner: string,
  claims: { cid: number; seq: number },
  contentKey = fixture.contentKey,
): Promise<string> {
  const jwe = await encryptJwe(
    contentKey,
    { cty: REPORT_CONTENT_TYPE, cid: claims.cid, seq: claims.seq },
    encoder.encode(inner),
  );
  const sig = await signBytes(fixture.client.privateKey, encoder.encode(toCompactJwe(jwe)));
  return JSON.stringify({ ...jwe, sig: encodeBase64Url(sig) });
}

async function post(fixture: Fixture, body: string) {
  const response = await fixture.app.request(API.reports, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("ingestReport() stores a sealed report, costing one RSA operation for its content key", async () => {
  await using fixture = await setUp();
  for (const seq of [1, 2, 3]) {
    const message = await sealReport(
      fixture.contentKey,
      fixture.client.privateKey,
      { cid: fixture.cid, seq },
      reportBytes(fixture.cid, seq),
    );
    const answer = await post(fixture, JSON.stringify(message));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }
  assert.equal(fixture.keys.rsaPrivateOps, 1);
  assert.equal(await fixture.store.countReports(), 3);
});

Deno.test("ingestReport() refuses, although the outer signature verifies, an inner report naming other claims or another purpose", async () => {
  await using fixture = await setUp();
  const { cid, kid } = fixture;
  const cases: Array<[string, { cid: number; seq: number; kid: string | null }, string]> = [
    ["another sequence", { cid, seq: 11, kid }, "ERR_SIGNATURE_INVALID"],
    ["another computer", { cid: cid + 1, seq: 10, kid }, "ERR_SIGNATURE_INVALID"],
    ["no key id (clear-text claims)", { cid, seq: 10, kid: null }, "ERR_SIGNATURE_INVALID"],
    ["another key id", { cid, seq: 10, kid: "f".repeat(40) }, "ERR_SIGNATURE_INVALID"],
  ];
  for (const [what, claims, code] of cases) {
    const inner = await signReport(fixture.client.privateKey, claims, reportBytes(cid, 10));
    const answer = await post(
      fixture,
      await handMade(fixture, toCompactJws(inner), { cid, seq: 10 }),
    );
    assert.equal(answer.status, 403, `${what}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error.code, code, what);
  }
  // Another purpose: a JWS of another typ, signed by the same client.
  const settings = await signJws(
    fixture.client.privateKey,
    { typ: "mle-settings", cid, seq: 10, kid },
    reportBytes(cid, 10),
  );
  let answer = await post(
    fixture,
    await handMade(fixture, toCompactJws(settings), { cid, seq: 10 }),
  );
  assert.equal(answer.status, 403);
  assert.equal(answer.body.error.code, "ERR_SIGNATURE_INVALID");
  // A plaintext that is not a JWS at all.
  answer = await post(fixture, await handMade(fixture, "not a jws", { cid, seq: 10 }));
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error.code, "ERR_ENVELOPE_MALFORMED");
  // A report body naming another computer than the envelope.
  const wrongBody = await signReport(
    fixture.client.privateKey,
    { cid, seq: 10, kid },
    reportBytes(cid + 1, 10),
  );
  answer = await post(
    fixture,
    await handMade(fixture, toCompactJws(wrongBody), { cid, seq: 10 }),
  );
  assert.equal(answer.status, 400);
  assert.equal(answer.body.error.code, "ERR_REPORT_INVALID");
  assert.equal(await fixture.store.countReports(), 0, "nothing was stored");
});

Deno.test("ingestReport() spends no RSA operation on a message whose outer signature does not verify", async () => {
  await using fixture = await setUp();
  const stranger = await generateSigningKeyPair();
  for (let seq = 1; seq <= 5; seq++) {
    // A fresh wrapped key each time: any RSA work would show in the count.
    const { contentKey } = await createContentKey(fixture.serverKey, fixture.kid);
    const message = await sealReport(
      contentKey,
      stranger.privateKey,
      { cid: fixture.cid, seq },
      reportBytes(fixture.cid, seq),
    );
    const answer = await post(fixture, JSON.stringify(message));
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, "ERR_SIGNATURE_INVALID");
  }
  assert.equal(fixture.keys.rsaPrivateOps, 0);
});
