/**
 * The store's computers and bundle senders, held to one behaviour on every backend: registered from `storeConformanceTests` (`store_conformance.ts`), so SQLite and
 * PostgreSQL both run them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ConformanceTest } from "./_conformance_fixtures.ts";
import { computerRecord } from "./_test_computer_record.ts";

/** Registers these tests with `test`. */
export function computerConformanceTests(test: ConformanceTest): void {
  test("registers computers with increasing ids and finds them by id and key", async ({ store }) => {
    const first = await store.registerComputer({
      publicKey: "key-1",
      hostIdentity: "host-a",
      hostname: "a.example",
      registeredAt: 1_700_000_000_001,
    });
    const second = await store.registerComputer({
      publicKey: "key-2",
      hostIdentity: "host-a",
      hostname: null,
      registeredAt: 1_700_000_000_002,
      claimsToReplace: first.id,
      claimSignedByOldKey: true,
    });
    assert.ok(second.id > first.id);
    assert.deepEqual(
      first,
      computerRecord(first.id, {
        publicKey: "key-1",
        hostIdentity: "host-a",
        hostname: "a.example",
        registeredAt: 1_700_000_000_001,
      }),
    );
    assert.deepEqual([second.claimsToReplace, second.claimSignedByOldKey], [first.id, true]);
    assert.deepEqual(await store.getComputer(second.id), second);
    assert.deepEqual(await store.findComputerByPublicKey("key-1"), first);
    assert.equal(await store.getComputer(9999), null);
    assert.equal(await store.findComputerByPublicKey("nobody"), null);
    assert.deepEqual((await store.listComputers()).map((c) => c.id), [first.id, second.id]);
    assert.deepEqual(
      (await store.findComputersByHostIdentity("host-a")).map((c) => c.id),
      [first.id, second.id],
    );
    // The key is the credential: a second computer with it is refused.
    await assert.rejects(async () =>
      await store.registerComputer({
        publicKey: "key-1",
        hostIdentity: null,
        hostname: null,
        registeredAt: 3,
      })
    );
  });

  test("revokes, links, flags and removes computers; inactive ids follow", async ({ store }) => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(
        (await store.registerComputer({
          publicKey: `k${i}`,
          hostIdentity: "same",
          hostname: null,
          registeredAt: i,
        })).id,
      );
    }
    const [a, b, c, d] = ids;
    assert.equal(await store.revokeComputer(a, 10), true);
    assert.equal(await store.revokeComputer(a, 11), false);
    assert.equal((await store.getComputer(a))!.revokedAt, 10);
    assert.deepEqual(await store.listRevokedIds(), [a]);
    await store.linkComputers(b, c, "duplicate_of");
    assert.equal((await store.getComputer(b))!.duplicateOf, c);
    assert.equal((await store.getComputer(b))!.handoverLastSeq, 0);
    await store.linkComputers(b, c, "replaced_by", 2 ** 40);
    const replaced = (await store.getComputer(b))!;
    assert.deepEqual([replaced.replacedBy, replaced.duplicateOf], [c, null]);
    assert.equal(replaced.handoverLastSeq, 2 ** 40);
    // A hand-over is not undone by a later duplicate link.
    await store.linkComputers(b, d, "duplicate_of");
    assert.equal((await store.getComputer(b))!.duplicateOf, null);
    await store.flagComputer(c, "registered after a compromise");
    assert.equal((await store.getComputer(c))!.flagged, "registered after a compromise");
    await store.flagComputer(c, null);
    assert.equal((await store.getComputer(c))!.flagged, null);
    await store.removeComputer(d, 20);
    await store.removeComputer(d, 21);
    assert.equal((await store.getComputer(d))!.removedAt, 20);
    assert.deepEqual(await store.listInactiveIds(), [a, b, d]);
    assert.deepEqual((await store.findComputersByHostIdentity("same")).map((x) => x.id), [a, b, c]);
  });

  test("allows and stops allowing bundle senders", async ({ store }) => {
    await store.setBundleSender(7, true, 100);
    await store.setBundleSender(7, true, 200);
    await store.setBundleSender(3, true, 300);
    assert.equal(await store.isBundleSender(7), true);
    assert.deepEqual(await store.listBundleSenders(), [
      { computerId: 3, allowedAt: 300 },
      { computerId: 7, allowedAt: 100 },
    ]);
    await store.setBundleSender(7, false, 400);
    assert.equal(await store.isBundleSender(7), false);
    assert.deepEqual((await store.listBundleSenders()).map((s) => s.computerId), [3]);
  });
}
