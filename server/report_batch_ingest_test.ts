/**
 * Report batches, in-process: every envelope takes the single report's path and draws the answer
 * it would have drawn alone; a malformed batch ingests nothing.
 */

import assert from "node:assert/strict";
import { createContentKey } from "../envelope/jwe.ts";
import { sealReport } from "../envelope/report_message.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { readCapabilities } from "../protocol/capabilities.ts";
import { MAX_REPORT_BATCH_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { encodeReportBatch, readReportBatchAnswer } from "../protocol/report_batch.ts";
import { openTestServer, registerTestComputer } from "./_test_server.ts";
import { reportBytes } from "../tests/report_bytes.ts";

const encoder = new TextEncoder();

async function withServer(
  body: (server: Awaited<ReturnType<typeof openTestServer>>) => Promise<void>,
): Promise<void> {
  const server = await openTestServer("mle-batch-ingest-test-");
  try {
    await body(server);
  } finally {
    server.store.close();
    await Deno.remove(server.dir, { recursive: true });
  }
}

function postBatch(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  body: Uint8Array<ArrayBuffer>,
) {
  return app.request(API.reportBatch, { method: "POST", body });
}

Deno.test("POST /api/v1/reports/batch answers each envelope as its own request would, storing each once", async () => {
  await withServer(async ({ app, store, pair, kid }) => {
    const alice = await registerTestComputer(store, "alice");
    const bob = await registerTestComputer(store, "bob");
    const stranger = await generateSigningKeyPair();
    const seal = async (cid: number, key: CryptoKey, seq: number) => {
      const { contentKey } = await createContentKey(pair.publicKey, kid);
      return encoder.encode(
        JSON.stringify(await sealReport(contentKey, key, { cid, seq }, reportBytes(cid, seq))),
      );
    };
    const aliceFirst = await seal(alice.id, alice.keys.privateKey, 1);
    const envelopes = [
      aliceFirst,
      await seal(alice.id, alice.keys.privateKey, 2),
      await seal(bob.id, bob.keys.privateKey, 1),
      await seal(bob.id, stranger.privateKey, 2), // forged: another key signed it
      encoder.encode("not json"),
      aliceFirst, // the same envelope again, in the same batch
    ];
    const response = await postBatch(app, encodeReportBatch(envelopes));
    assert.equal(response.status, 200);
    const results = readReportBatchAnswer(await response.json(), envelopes.length);
    const codes = results.map((result) =>
      (result.body as { error?: { code: string } }).error?.code ?? result.status
    );
    assert.deepEqual(codes.slice(1, 5), [
      200,
      200,
      "ERR_SIGNATURE_INVALID",
      "ERR_ENVELOPE_MALFORMED",
    ]);
    assert.deepEqual(results[3].status, 403);
    assert.deepEqual(results[4].status, 400);
    // The two copies of one envelope are ingested concurrently, so either may win: one is stored,
    // the other is the duplicate.
    const [storedCopy, duplicateCopy] = results[0].status === 200
      ? [results[0], results[5]]
      : [results[5], results[0]];
    assert.deepEqual(storedCopy, {
      status: 200,
      body: { status: "stored", computerId: alice.id, seq: 1 },
    });
    assert.equal(duplicateCopy.status, 409);
    assert.equal(
      (duplicateCopy.body as { error: { code: string } }).error.code,
      "ERR_DUPLICATE_REPORT",
    );
    assert.deepEqual((await store.listReports(alice.id)).map((r) => r.seq).sort(), [1, 2]);
    assert.deepEqual((await store.listReports(bob.id)).map((r) => r.seq), [1]);

    // Sent again (a relay whose acknowledgement was lost): every one a duplicate, nothing stored.
    const again = readReportBatchAnswer(
      await (await postBatch(app, encodeReportBatch(envelopes.slice(0, 3)))).json(),
      3,
    );
    assert.deepEqual(again.map((result) => result.status), [409, 409, 409]);
    assert.equal(await store.countReports(), 3);
  });
});

Deno.test("a batch larger than one wave of ingest answers every envelope in its place and stores each once", async () => {
  await withServer(async ({ app, store, pair, kid }) => {
    const alice = await registerTestComputer(store, "alice");
    const { contentKey } = await createContentKey(pair.publicKey, kid);
    const count = 150; // over four waves of 32
    const envelopes: Uint8Array<ArrayBuffer>[] = [];
    for (let seq = 1; seq <= count; seq++) {
      const sealed = await sealReport(
        contentKey,
        alice.keys.privateKey,
        { cid: alice.id, seq },
        reportBytes(alice.id, seq),
      );
      envelopes.push(encoder.encode(JSON.stringify(sealed)));
    }
    envelopes[100] = encoder.encode("not json");
    const results = readReportBatchAnswer(
      await (await postBatch(app, encodeReportBatch(envelopes))).json(),
      count,
    );
    for (const [index, result] of results.entries()) {
      if (index === 100) {
        assert.equal(result.status, 400);
        continue;
      }
      assert.deepEqual(result, {
        status: 200,
        body: { status: "stored", computerId: alice.id, seq: index + 1 },
      });
    }
    assert.equal(await store.countReports(), count - 1);
  });
});

Deno.test("POST /api/v1/reports/batch refuses a malformed or oversized batch whole, ingesting nothing", async () => {
  await withServer(async ({ app, store, pair, kid }) => {
    const alice = await registerTestComputer(store, "alice");
    const { contentKey } = await createContentKey(pair.publicKey, kid);
    const good = encoder.encode(JSON.stringify(
      await sealReport(
        contentKey,
        alice.keys.privateKey,
        { cid: alice.id, seq: 1 },
        reportBytes(alice.id, 1),
      ),
    ));
    const batch = encodeReportBatch([good, good]);
    const cut = batch.slice(0, batch.length - 1);
    let response = await postBatch(app, cut);
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error.code, "ERR_BATCH_MALFORMED");
    assert.match(body.error.message, /envelope 1 is cut short; send each report alone/);

    response = await app.request(API.reportBatch, {
      method: "POST",
      body: new Uint8Array(MAX_REPORT_BATCH_BYTES + 1),
      headers: { "content-length": String(MAX_REPORT_BATCH_BYTES + 1) },
    });
    assert.equal(response.status, 413);
    assert.equal((await response.json()).error.code, "ERR_TOO_LARGE");
    assert.equal(await store.countReports(), 0);
  });
});

Deno.test("the server announces report batches in its capabilities", async () => {
  await withServer(async ({ app }) => {
    const capabilities = readCapabilities(await (await app.request(API.capabilities)).json());
    assert.equal(capabilities.acceptsReportBatches, true);
  });
});
