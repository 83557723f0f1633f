/**
 * The store's encryption keys, numbered documents, settings and sealed content keys, held to one
 * behaviour on every backend: registered from `storeConformanceTests` (`store_conformance.ts`), so SQLite and
 * PostgreSQL both run them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ConformanceTest } from "./_conformance_fixtures.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

/** Registers these tests with `test`. */
export function documentConformanceTests(test: ConformanceTest): void {
  test("keeps encryption keys and their roles; deploy and disable record the certificate", async ({ store }) => {
    const key = (kid: string, createdAt: number) => ({
      kid,
      spki: `spki-${kid}`,
      bits: 3072,
      role: "pending" as const,
      createdAt,
      deployedAt: null,
      retiredAt: null,
    });
    await store.addEncryptionKey(key(KID_A, 1));
    await assert.rejects(
      store.deployEncryptionKey(KID_A, () => Promise.reject(new Error("no")), 5),
      /no/,
    );
    assert.equal((await store.listEncryptionKeys())[0].role, "pending");
    assert.equal(await store.getDocument("encryption-certificate"), null);
    const first = await store.deployEncryptionKey(KID_A, (s) => Promise.resolve(`cert ${s}`), 5);
    assert.deepEqual(first, { serial: 1, document: "cert 1" });
    await store.addEncryptionKey(key(KID_B, 2));
    await store.deployEncryptionKey(KID_B, (s) => Promise.resolve(`cert ${s}`), 7);
    assert.deepEqual(
      (await store.listEncryptionKeys()).map((k) => [k.kid, k.role, k.deployedAt]),
      [[KID_A, "previous", 5], [KID_B, "current", 7]],
    );
    assert.equal(await store.retireEncryptionKey(KID_B, 8), false);
    assert.equal(await store.retireEncryptionKey(KID_A, 8), true);
    assert.equal(await store.retireEncryptionKey(KID_A, 9), false);
    assert.equal((await store.listEncryptionKeys())[0].retiredAt, 8);
    assert.deepEqual(await store.disableEncryption((s) => Promise.resolve(`off ${s}`), 10), {
      serial: 3,
      document: "off 3",
    });
    assert.equal((await store.listEncryptionKeys())[1].role, "previous");
    assert.equal(await store.getDocument("encryption-certificate"), "off 3");
  });

  test("numbers each kind of document 1, 2, 3… and tells the signer what it replaces", async ({ store }) => {
    const seen: Array<[number, string | null]> = [];
    const sign = (serial: number, previous: string | null) => {
      seen.push([serial, previous]);
      return Promise.resolve(`{"serial":${serial}}`);
    };
    assert.deepEqual(await store.recordDocument("revocations", sign), {
      serial: 1,
      document: '{"serial":1}',
    });
    assert.equal((await store.recordDocument("revocations", sign)).serial, 2);
    assert.equal((await store.recordDocument("encryption-certificate", sign)).serial, 1);
    assert.deepEqual(seen, [[1, null], [2, '{"serial":1}'], [1, null]]);
    assert.equal(await store.getDocument("revocations"), '{"serial":2}');
    await store.putDocument("masthead", "m1");
    await store.putDocument("masthead", "m2");
    assert.equal(await store.getDocument("masthead"), "m2");
  });

  test("signs again with the next serial when another session recorded one meanwhile", async ({ store, openAnother }) => {
    const other = await openAnother();
    try {
      const serials: number[] = [];
      const recorded = await store.recordDocument("revocations", async (serial) => {
        serials.push(serial);
        if (serials.length === 1) {
          await other.recordDocument("revocations", (s) => Promise.resolve(`other ${s}`));
        }
        return `mine ${serial}`;
      });
      assert.deepEqual(serials, [1, 2]);
      assert.deepEqual(recorded, { serial: 2, document: "mine 2" });
      assert.equal(await other.getDocument("revocations"), "mine 2");
    } finally {
      other.close();
    }
  });

  test("keeps settings for all and for listed computers, oldest first", async ({ store }) => {
    assert.deepEqual(await store.settingsVersion(), { count: 0, lastSerial: 0 });
    const all = await store.addSettings(null, "for all", 1);
    const listed = await store.addSettings([4, 5], "for 4 and 5", 2);
    assert.ok(listed > all);
    assert.deepEqual(await store.listSettingsFor(5), [
      { serial: all, computerId: null, document: "for all", createdAt: 1 },
      { serial: listed, computerId: 5, document: "for 4 and 5", createdAt: 2 },
    ]);
    assert.deepEqual((await store.listSettingsFor(6)).map((s) => s.document), ["for all"]);
    assert.deepEqual((await store.listSettings()).map((s) => [s.computerId, s.document]), [
      [null, "for all"],
      [4, "for 4 and 5"],
      [5, "for 4 and 5"],
    ]);
    // One record per computer listed: the version counts records, not documents.
    assert.deepEqual(await store.settingsVersion(), { count: 3, lastSerial: listed });
  });

  test("keeps one sealed content key per computer and server key", async ({ store }) => {
    const sealed = (n: number) => new Uint8Array([n, 0, 255, n]);
    await store.putSealedContentKeys([
      { computerId: 1, kid: KID_A, wrappedKeyHash: "h1", sealed: sealed(1), createdAt: 1 },
      { computerId: 1, kid: KID_B, wrappedKeyHash: "h2", sealed: sealed(2), createdAt: 2 },
    ]);
    await store.putSealedContentKeys([
      { computerId: 1, kid: KID_A, wrappedKeyHash: "h3", sealed: sealed(3), createdAt: 3 },
    ]);
    const kept = (await store.getSealedContentKey(1, KID_A))!;
    assert.deepEqual(kept, {
      computerId: 1,
      kid: KID_A,
      wrappedKeyHash: "h3",
      sealed: sealed(3),
      createdAt: 3,
    });
    assert.ok(kept.sealed instanceof Uint8Array);
    assert.equal(await store.getSealedContentKey(2, KID_A), null);
    await store.deleteSealedContentKeys(KID_A);
    assert.equal(await store.getSealedContentKey(1, KID_A), null);
    assert.equal((await store.getSealedContentKey(1, KID_B))!.wrappedKeyHash, "h2");
  });
}
