import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { createContentKey } from "../envelope/jwe.ts";
import type { Store } from "../store/mod.ts";
import { ContentKeySource } from "./content_key_source.ts";
import { IngestError } from "./ingest_error.ts";
import { KeyRing } from "./key_ring.ts";
import { RsaWorkQueue } from "./rsa_work_queue.ts";
import { installCurrentKey, withStore } from "./_test_server.ts";

async function withKeyRing(
  test: (
    ring: KeyRing,
    context: { store: Store; dir: string; kid: string; pair: CryptoKeyPair },
  ) => Promise<void>,
): Promise<void> {
  await withStore(async (store, dir) => {
    const { kid, pair } = await installCurrentKey(store, dir);
    const ring = new KeyRing({ store, dataDir: dir, log: silentLogger });
    await ring.refresh();
    await test(ring, { store, dir, kid, pair });
  });
}

const garbage = () => encodeBase64Url(crypto.getRandomValues(new Uint8Array(256)));

Deno.test("ContentKeySource: a restart (new key ring, same data dir) needs no RSA operation for a content key already unwrapped", async () => {
  await withKeyRing(async (ring, { store, dir, kid, pair }) => {
    const { contentKey: sent } = await createContentKey(pair.publicKey, kid);
    const source = new ContentKeySource({ keys: ring });
    const ref = { computerId: 7, kid, encryptedKey: sent.encryptedKey };
    assert.ok(await source.contentKey(ref));
    assert.ok(await source.contentKey(ref));
    assert.equal(ring.rsaPrivateOps, 1, "memoised");
    await ring.flush();

    const restarted = new KeyRing({ store, dataDir: dir, log: silentLogger });
    await restarted.refresh();
    const key = await new ContentKeySource({ keys: restarted }).contentKey(ref);
    assert.ok(key);
    assert.equal(restarted.rsaPrivateOps, 0, "from the vault, not RSA");
    assert.equal(restarted.vaultStats.hits, 1);
    // The same AES key: what one seals, the other opens.
    const iv = new Uint8Array(12);
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv },
      sent.key,
      new Uint8Array(5),
    );
    assert.equal((await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed)).byteLength, 5);
  });
});

Deno.test("ContentKeySource: a wrapped key that failed is refused again without RSA for that computer and key id, for a while", async () => {
  await withKeyRing(async (ring, { kid }) => {
    let now = 0;
    const source = new ContentKeySource({ keys: ring, failureMemoMs: 1000, now: () => now });
    const bogus = garbage();
    assert.equal(await source.contentKey({ computerId: 8, kid, encryptedKey: bogus }), null);
    assert.equal(await source.contentKey({ computerId: 8, kid, encryptedKey: bogus }), null);
    assert.equal(await source.fileKey({ computerId: 8, kid, encryptedKey: bogus }), null);
    assert.equal(ring.rsaPrivateOps, 1);
    assert.equal(source.stats.failuresRemembered, 2);
    // Another computer sending the same bytes is its own case.
    assert.equal(await source.contentKey({ computerId: 9, kid, encryptedKey: bogus }), null);
    assert.equal(ring.rsaPrivateOps, 2);
    now = 1001;
    assert.equal(await source.contentKey({ computerId: 8, kid, encryptedKey: bogus }), null);
    assert.equal(ring.rsaPrivateOps, 3, "forgotten after the memo's time");
  });
});

Deno.test("ContentKeySource: past its budget a computer gets 429 ERR_TOO_MANY_NEW_KEYS with Retry-After; known keys and other computers go on", async () => {
  await withKeyRing(async (ring, { kid, pair }) => {
    let now = 0;
    const source = new ContentKeySource({
      keys: ring,
      budget: { keys: 2, windowMs: 60_000 },
      now: () => now,
    });
    const wrapped = async () =>
      (await createContentKey(pair.publicKey, kid)).contentKey.encryptedKey;
    const first = await wrapped();
    assert.ok(await source.contentKey({ computerId: 5, kid, encryptedKey: first }));
    assert.equal(await source.fileKey({ computerId: 5, kid, encryptedKey: garbage() }), null);
    const refusal = await source.contentKey({ computerId: 5, kid, encryptedKey: await wrapped() })
      .then(() => null, (error) => error);
    assert.ok(refusal instanceof IngestError);
    assert.equal(refusal.status, 429);
    assert.equal(refusal.code, "ERR_TOO_MANY_NEW_KEYS");
    assert.equal(refusal.retryAfterSeconds, 30);
    assert.deepEqual(refusal.headers, { "retry-after": "30" });
    assert.equal(ring.rsaPrivateOps, 2, "the refusal cost no RSA");
    assert.ok(await source.contentKey({ computerId: 5, kid, encryptedKey: first }), "memoised");
    assert.ok(await source.contentKey({ computerId: 6, kid, encryptedKey: await wrapped() }));
    now = 30_000;
    assert.ok(await source.contentKey({ computerId: 5, kid, encryptedKey: await wrapped() }));
    assert.equal(source.stats.refusedOverBudget, 1);
  });
});

Deno.test("ContentKeySource: when the RSA queue is full the answer is 503 ERR_RETRY_LATER with Retry-After, and the budget is not charged", async () => {
  await withKeyRing(async (ring, { kid, pair }) => {
    const source = new ContentKeySource({
      keys: ring,
      budget: { keys: 1, windowMs: 3_600_000 },
      queue: new RsaWorkQueue({ concurrency: 1, maxWaiting: 0, retryAfterSeconds: 2 }),
    });
    const wrapped = async () =>
      (await createContentKey(pair.publicKey, kid)).contentKey.encryptedKey;
    const [a, b] = [await wrapped(), await wrapped()];
    const running = source.contentKey({ computerId: 1, kid, encryptedKey: a });
    const busy = await source.contentKey({ computerId: 2, kid, encryptedKey: b })
      .then(() => null, (error) => error);
    assert.ok(busy instanceof IngestError);
    assert.equal(busy.status, 503);
    assert.equal(busy.code, "ERR_RETRY_LATER");
    assert.deepEqual(busy.headers, { "retry-after": "2" });
    assert.ok(await running);
    assert.ok(await source.contentKey({ computerId: 2, kid, encryptedKey: b }), "budget intact");
    assert.equal(source.stats.refusedBusy, 1);
  });
});

Deno.test("ContentKeySource: an upload's file key sealed for its reference opens with no RSA, and for nothing else", async () => {
  await withKeyRing(async (ring, { kid, pair }) => {
    const source = new ContentKeySource({ keys: ring });
    const { contentKey: sent, raw } = await createContentKey(pair.publicKey, kid);
    const ref = { computerId: 3, kid, encryptedKey: sent.encryptedKey };
    const fileKey = await source.fileKey(ref);
    assert.deepEqual(fileKey, raw);
    const sealed = source.sealFileKey(ref, fileKey!)!;
    assert.deepEqual(source.openFileKey(ref, sealed), raw);
    assert.equal(source.openFileKey({ ...ref, computerId: 4 }, sealed), null);
    assert.equal(ring.rsaPrivateOps, 1);
  });
});
