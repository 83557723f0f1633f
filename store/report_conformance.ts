/**
 * The store's reports (stored once, read back, key usage), held to one behaviour on every backend: registered from `storeConformanceTests` (`store_conformance.ts`), so SQLite and
 * PostgreSQL both run them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConformanceTest, newComputerId, report } from "./_conformance_fixtures.ts";
import type { Store } from "./store.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

/** Registers these tests with `test`. */
export function reportConformanceTests(test: ConformanceTest): void {
  test("stores each report once: stored, duplicate for a resend, conflict for another body", async ({ store }) => {
    const computer = await store.registerComputer({
      publicKey: "k",
      hostIdentity: null,
      hostname: null,
      registeredAt: 1,
    });
    const id = computer.id;
    assert.deepEqual(
      await store.storeReports([report(id, 1), report(id, 2), report(id, 1), report(id, 2, "x")]),
      ["stored", "stored", "duplicate", "conflict"],
    );
    assert.deepEqual(await store.storeReports([report(id, 1), report(id, 3), report(id, 2, "y")]), [
      "duplicate",
      "stored",
      "conflict",
    ]);
    assert.deepEqual(await store.storeReports([]), []);
    assert.equal(await store.countReports(), 3);
    const listed = await store.listReports(id);
    assert.deepEqual(listed.map((r) => [r.seq, r.body]), [[1, '{"seq":1}'], [2, '{"seq":2}'], [
      3,
      '{"seq":3}',
    ]]);
    assert.deepEqual(listed[0], {
      computerId: id,
      seq: 1,
      receivedAt: 1_700_000_000_001,
      encrypted: true,
      kid: KID_A,
      body: '{"seq":1}',
    });
    const touched = (await store.getComputer(id))!;
    assert.deepEqual([touched.lastReportAt, touched.lastKid, touched.encryptionLevel], [
      1_700_000_000_003,
      KID_A,
      "required",
    ]);
    assert.deepEqual(await store.listReports(id + 1), []);
  });

  test("finds a computer's last report, and reads reports one at a time, filtered and ordered", async ({ store }) => {
    const a = await newComputerId(store, "a");
    const b = await newComputerId(store, "b");
    assert.equal(await store.lastReport(a), null);
    const body = (owner: string, n: number) =>
      JSON.stringify({ properties: { Owner: owner }, custom: { n: String(n) } });
    await store.storeReports([report(a, 1, body("ops", 1)), report(a, 2, body("dev", 2))]);
    await store.storeReports([report(b, 3, body("ops", 3))]);
    assert.equal((await store.lastReport(a))?.seq, 2);
    const read = async (query: Parameters<Store["iterateReports"]>[0]) =>
      (await Array.fromAsync(store.iterateReports(query))).map((r) => [r.computerId, r.seq]);
    assert.deepEqual(await read({ order: "newest" }), [[b, 3], [a, 2], [a, 1]]);
    assert.deepEqual(await read({ order: "oldest", limit: 2 }), [[a, 1], [a, 2]]);
    assert.deepEqual(await read({ order: "newest", computerId: a }), [[a, 2], [a, 1]]);
    assert.deepEqual(await read({ order: "oldest", since: 1_700_000_000_002 }), [[a, 2], [b, 3]]);
    assert.deepEqual(await read({ order: "oldest", where: [{ name: "Owner", value: "ops" }] }), [
      [a, 1],
      [b, 3],
    ]);
    assert.deepEqual(await read({ order: "oldest", where: [{ name: "n", value: "2" }] }), [[a, 2]]);
  });

  test("a report sent through two stores on one database at once is stored once", async ({ store, openAnother }) => {
    const other = await openAnother();
    try {
      const id = await newComputerId(store, "k");
      const batch = Array.from({ length: 20 }, (_, i) => report(id, i + 1));
      const [mine, theirs] = await Promise.all([
        store.storeReports(batch),
        other.storeReports(batch),
      ]);
      for (let i = 0; i < batch.length; i++) {
        assert.deepEqual([mine[i], theirs[i]].sort(), ["duplicate", "stored"]);
      }
      assert.equal(await store.countReports(), 20);
    } finally {
      other.close();
    }
  });

  test("lists key usage per computer, most recent first", async ({ store }) => {
    const a = await newComputerId(store, "a");
    const b = await newComputerId(store, "b");
    await store.storeReports([
      report(a, 1),
      report(a, 2),
      { ...report(b, 5), kid: KID_B },
      report(b, 9),
    ]);
    assert.deepEqual(await store.listKeyUsage(KID_A, 0), [
      { computerId: b, reports: 1, lastAt: 1_700_000_000_009 },
      { computerId: a, reports: 2, lastAt: 1_700_000_000_002 },
    ]);
    assert.deepEqual(await store.listKeyUsage(KID_A, 1_700_000_000_003), [
      { computerId: b, reports: 1, lastAt: 1_700_000_000_009 },
    ]);
  });
}
