/**
 * The behaviour every `Store` and `UploadRecords` backend must show, as one suite run against
 * each (`sqlite_store_test.ts`, `postgres_store_test.ts`): a method added to the interface gets
 * its tests here, once, and both implementations are held to them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { NewReport, Store, StoreChange } from "./store.ts";
import type { UploadQuotas, UploadRecord, UploadRecords } from "./upload_records.ts";
import { consoleConformanceTests } from "./console_conformance.ts";
import { computerRecord } from "./_test_computer_record.ts";

/** A fresh, empty database opened by a backend. */
export interface StoreFixture {
  store: Store;
  uploads: UploadRecords;
  /** Another store on the same database (another server or admin session). */
  openAnother(): Promise<Store>;
  /** Closes what the fixture opened and drops the database. */
  cleanup(): Promise<void>;
}

/** How the suite gets a fresh database. */
export interface ConformanceOptions {
  open(): Promise<StoreFixture>;
  /** A reason to skip every test (printed as the test name's suffix), or null to run them. */
  ignoreReason?: string | null;
}

const KID = "a".repeat(40);
const OTHER_KID = "b".repeat(40);

function report(computerId: number, seq: number, body = `{"seq":${seq}}`): NewReport {
  return {
    computerId,
    seq,
    receivedAt: 1_700_000_000_000 + seq,
    encrypted: true,
    kid: KID,
    body,
    digest: `digest of ${body}`,
    encryptionLevel: "required",
  };
}

function upload(computerId: number, uploadId: string, size: number): UploadRecord {
  return {
    computerId,
    uploadId,
    declaredName: "file.txt",
    storedName: null,
    size,
    receivedBytes: 0,
    sha256: "0".repeat(64),
    chunkSize: 1024,
    chunkCount: 1,
    encrypted: false,
    kid: null,
    manifestDigest: "m",
    state: "receiving",
    error: null,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    completedAt: null,
    server: "server-a",
  };
}

/** Registers the suite's tests under `backend` (e.g. "SqliteStore"). */
export function storeConformanceTests(backend: string, options: ConformanceOptions): void {
  const ignore = options.ignoreReason != null;
  const test = (name: string, body: (fixture: StoreFixture) => Promise<void>) =>
    Deno.test({
      name: `${backend}: ${name}${ignore ? ` (skipped: ${options.ignoreReason})` : ""}`,
      ignore,
      async fn() {
        const fixture = await options.open();
        try {
          await body(fixture);
        } finally {
          await fixture.cleanup();
        }
      },
    });

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
      kid: KID,
      body: '{"seq":1}',
    });
    const touched = (await store.getComputer(id))!;
    assert.deepEqual([touched.lastReportAt, touched.lastKid, touched.encryptionLevel], [
      1_700_000_000_003,
      KID,
      "required",
    ]);
    assert.deepEqual(await store.listReports(id + 1), []);
  });

  test("finds a computer's last report, and reads reports one at a time, filtered and ordered", async ({ store }) => {
    const a = (await store.registerComputer({
      publicKey: "a",
      hostIdentity: null,
      hostname: null,
      registeredAt: 1,
    })).id;
    const b = (await store.registerComputer({
      publicKey: "b",
      hostIdentity: null,
      hostname: null,
      registeredAt: 1,
    })).id;
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
      const id = (await store.registerComputer({
        publicKey: "k",
        hostIdentity: null,
        hostname: null,
        registeredAt: 1,
      })).id;
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
    const a = (await store.registerComputer({
      publicKey: "a",
      hostIdentity: null,
      hostname: null,
      registeredAt: 1,
    })).id;
    const b = (await store.registerComputer({
      publicKey: "b",
      hostIdentity: null,
      hostname: null,
      registeredAt: 1,
    })).id;
    await store.storeReports([
      report(a, 1),
      report(a, 2),
      { ...report(b, 5), kid: OTHER_KID },
      report(b, 9),
    ]);
    assert.deepEqual(await store.listKeyUsage(KID, 0), [
      { computerId: b, reports: 1, lastAt: 1_700_000_000_009 },
      { computerId: a, reports: 2, lastAt: 1_700_000_000_002 },
    ]);
    assert.deepEqual(await store.listKeyUsage(KID, 1_700_000_000_003), [
      { computerId: b, reports: 1, lastAt: 1_700_000_000_009 },
    ]);
  });

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
    await store.addEncryptionKey(key(KID, 1));
    await assert.rejects(
      store.deployEncryptionKey(KID, () => Promise.reject(new Error("no")), 5),
      /no/,
    );
    assert.equal((await store.listEncryptionKeys())[0].role, "pending");
    assert.equal(await store.getDocument("encryption-certificate"), null);
    assert.deepEqual(await store.deployEncryptionKey(KID, (s) => Promise.resolve(`cert ${s}`), 5), {
      serial: 1,
      document: "cert 1",
    });
    await store.addEncryptionKey(key(OTHER_KID, 2));
    await store.deployEncryptionKey(OTHER_KID, (s) => Promise.resolve(`cert ${s}`), 7);
    assert.deepEqual(
      (await store.listEncryptionKeys()).map((k) => [k.kid, k.role, k.deployedAt]),
      [[KID, "previous", 5], [OTHER_KID, "current", 7]],
    );
    assert.equal(await store.retireEncryptionKey(OTHER_KID, 8), false);
    assert.equal(await store.retireEncryptionKey(KID, 8), true);
    assert.equal(await store.retireEncryptionKey(KID, 9), false);
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

  test("keeps settings for all and for listed computers, oldest first", async ({ store }) => {
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
  });

  test("keeps one sealed content key per computer and server key", async ({ store }) => {
    const sealed = (n: number) => new Uint8Array([n, 0, 255, n]);
    await store.putSealedContentKeys([
      { computerId: 1, kid: KID, wrappedKeyHash: "h1", sealed: sealed(1), createdAt: 1 },
      { computerId: 1, kid: OTHER_KID, wrappedKeyHash: "h2", sealed: sealed(2), createdAt: 2 },
    ]);
    await store.putSealedContentKeys([
      { computerId: 1, kid: KID, wrappedKeyHash: "h3", sealed: sealed(3), createdAt: 3 },
    ]);
    const kept = (await store.getSealedContentKey(1, KID))!;
    assert.deepEqual(kept, {
      computerId: 1,
      kid: KID,
      wrappedKeyHash: "h3",
      sealed: sealed(3),
      createdAt: 3,
    });
    assert.ok(kept.sealed instanceof Uint8Array);
    assert.equal(await store.getSealedContentKey(2, KID), null);
    await store.deleteSealedContentKeys(KID);
    assert.equal(await store.getSealedContentKey(1, KID), null);
    assert.equal((await store.getSealedContentKey(1, OTHER_KID))!.wrappedKeyHash, "h2");
  });

  test("records uploads within quotas and updates them", async ({ uploads }) => {
    const quotas: UploadQuotas = {
      perComputerBytes: 100,
      totalBytes: 150,
      activeSince: 0,
      inProgressPerComputer: 2,
    };
    assert.equal(await uploads.createUpload(upload(1, "a", 60), quotas), "created");
    assert.equal(await uploads.createUpload(upload(1, "a", 60), quotas), "exists");
    // An upload in progress counts the bytes received, never the size it declared.
    assert.deepEqual(await uploads.usage(1, 0), { computerBytes: 0, totalBytes: 0, inProgress: 1 });
    await uploads.updateUpload(1, "a", { receivedBytes: 60 });
    assert.equal(await uploads.createUpload(upload(1, "b", 50), quotas), "computer-quota");
    assert.equal(await uploads.createUpload(upload(1, "b", 10), quotas), "created");
    assert.equal(await uploads.createUpload(upload(1, "c", 1), quotas), "too-many-in-progress");
    assert.equal(await uploads.createUpload(upload(2, "a", 91), quotas), "total-quota");
    assert.equal(await uploads.createUpload(upload(2, "a", 80), quotas), "created");
    assert.deepEqual(await uploads.usage(1, 0), {
      computerBytes: 60,
      totalBytes: 60,
      inProgress: 2,
    });
    // Uploads idle since before activeSince no longer count.
    assert.deepEqual(await uploads.usage(1, Number.MAX_SAFE_INTEGER), {
      computerBytes: 0,
      totalBytes: 0,
      inProgress: 0,
    });
    await uploads.updateUpload(1, "a", {
      state: "complete",
      storedName: "file.txt",
      completedAt: 5,
      updatedAt: 5,
    });
    await uploads.updateUpload(1, "b", { state: "failed", error: "ERR_X: broken" });
    await uploads.updateUpload(1, "b", {});
    const a = (await uploads.getUpload(1, "a"))!;
    assert.deepEqual(a, {
      ...upload(1, "a", 60),
      receivedBytes: 60,
      state: "complete",
      storedName: "file.txt",
      completedAt: 5,
      updatedAt: 5,
    });
    assert.equal((await uploads.getUpload(1, "b"))!.error, "ERR_X: broken");
    assert.equal(await uploads.getUpload(3, "a"), null);
    assert.deepEqual((await uploads.listUploads(1)).map((u) => u.uploadId), ["a", "b"]);
    assert.equal((await uploads.listUploads()).length, 3);
    assert.deepEqual(
      (await uploads.listUploadsIn("receiving")).map((u) => [u.computerId, u.uploadId]),
      [[2, "a"]],
    );
  });

  consoleConformanceTests(test);

  test("an upload still receiving can be taken over by another server; a finished one cannot", async ({ uploads }) => {
    const quotas: UploadQuotas = { perComputerBytes: 0, totalBytes: 0, activeSince: 0 };
    assert.equal(await uploads.createUpload(upload(1, "a", 10), quotas), "created");
    assert.equal(await uploads.createUpload(upload(1, "b", 10), quotas), "created");
    assert.equal(await uploads.takeOverUpload(1, "a", "server-b", 7), true);
    assert.deepEqual(await uploads.getUpload(1, "a"), {
      ...upload(1, "a", 10),
      server: "server-b",
      updatedAt: 7,
    });
    await uploads.updateUpload(1, "b", { state: "complete", completedAt: 8 });
    assert.equal(await uploads.takeOverUpload(1, "b", "server-b", 9), false);
    assert.equal((await uploads.getUpload(1, "b"))!.server, "server-a");
    assert.equal(await uploads.takeOverUpload(2, "none", "server-b", 9), false);
  });

  test("records each server once, the latest record winning", async ({ store, openAnother }) => {
    const other = await openAnother();
    try {
      await store.recordServer({
        name: "b:52311",
        url: "http://b:52311",
        startedAt: 1,
        lastSeenAt: 1,
        stoppedAt: null,
        kids: [],
      });
      await other.recordServer({
        name: "a:52311",
        url: "http://a:52311",
        startedAt: 2,
        lastSeenAt: 3,
        stoppedAt: null,
        kids: [KID, OTHER_KID],
      });
      await store.recordServer({
        name: "b:52311",
        url: "http://b.example:52311",
        startedAt: 1,
        lastSeenAt: 4,
        stoppedAt: 5,
        kids: [KID],
      });
      assert.deepEqual(await other.listServers(), [
        {
          name: "a:52311",
          url: "http://a:52311",
          startedAt: 2,
          lastSeenAt: 3,
          stoppedAt: null,
          kids: [KID, OTHER_KID],
        },
        {
          name: "b:52311",
          url: "http://b.example:52311",
          startedAt: 1,
          lastSeenAt: 4,
          stoppedAt: 5,
          kids: [KID],
        },
      ]);
    } finally {
      other.close();
    }
  });

  test("records each decrypting relay once by computer id, the latest report winning", async ({ store, openAnother }) => {
    const other = await openAnother();
    try {
      await store.recordDecryptingRelay({
        computerId: 9,
        name: "relay-a 127.0.0.1:52311",
        url: "http://127.0.0.1:52311",
        lastSeenAt: 1,
        kids: [KID],
      });
      await other.recordDecryptingRelay({
        computerId: 9,
        name: "relay-a 127.0.0.1:52311",
        url: "http://relay-a:52311",
        lastSeenAt: 2,
        kids: [KID, OTHER_KID],
      });
      await store.recordDecryptingRelay({
        computerId: 4,
        name: "relay-b",
        url: "http://relay-b:52311",
        lastSeenAt: 3,
        kids: [],
      });
      assert.deepEqual(await other.listDecryptingRelays(), [
        { computerId: 4, name: "relay-b", url: "http://relay-b:52311", lastSeenAt: 3, kids: [] },
        {
          computerId: 9,
          name: "relay-a 127.0.0.1:52311",
          url: "http://relay-a:52311",
          lastSeenAt: 2,
          kids: [KID, OTHER_KID],
        },
      ]);
    } finally {
      other.close();
    }
  });

  test("tells a watcher of another session's revocations and key changes, or says it cannot", async ({ store, openAnother }) => {
    const computer = await store.registerComputer({
      publicKey: "watched",
      hostIdentity: null,
      hostname: null,
      registeredAt: 1,
    });
    const seen: StoreChange[] = [];
    let notify = () => {};
    const watching = await store.watchChanges((change) => {
      seen.push(change);
      notify();
    });
    const other = await openAnother();
    // Resolved by the notification itself; the deadline only turns a lost one into a failure.
    const waitFor = (wanted: (change: StoreChange) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error("no notification came")), 30_000);
        notify = () => {
          if (!seen.some(wanted)) return;
          clearTimeout(deadline);
          resolve();
        };
        notify();
      });
    try {
      // Reports update the computer's row: they notify nobody.
      await other.storeReports([report(computer.id, 1)]);
      await other.revokeComputer(computer.id, 5);
      await other.addEncryptionKey({
        kid: KID,
        spki: "spki",
        bits: 3072,
        role: "pending",
        createdAt: 1,
        deployedAt: null,
        retiredAt: null,
      });
      if (!watching) {
        // SQLite: no notifications; the servers poll.
        assert.deepEqual(seen, []);
        return;
      }
      await waitFor((change) => change.kind === "computer" && change.computerId === computer.id);
      await waitFor((change) => change.kind === "keys");
      assert.equal(seen.filter((change) => change.kind === "computer").length, 1);
    } finally {
      other.close();
    }
  });
}
