import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "./sqlite_store.ts";

Deno.test("SqliteStore adds the claim columns to a store made before they existed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mle-store-test-" });
  try {
    const path = `${dir}/mle.db`;
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE computers (
      id INTEGER PRIMARY KEY AUTOINCREMENT, public_key TEXT NOT NULL UNIQUE, host_identity TEXT,
      hostname TEXT, registered_at INTEGER NOT NULL, last_report_at INTEGER, last_kid TEXT,
      encryption_level TEXT, revoked_at INTEGER, replaced_by INTEGER, duplicate_of INTEGER,
      flagged TEXT, removed_at INTEGER)`);
    old.exec(`INSERT INTO computers (public_key, registered_at) VALUES ('old-key', 1)`);
    old.close();

    const store = new SqliteStore(path);
    try {
      const old = (await store.getComputer(1))!;
      assert.deepEqual([old.claimsToReplace, old.claimSignedByOldKey], [null, false]);
      const claimant = await store.registerComputer({
        publicKey: "new-key",
        hostIdentity: null,
        hostname: null,
        registeredAt: 2,
        claimsToReplace: 1,
        claimSignedByOldKey: true,
      });
      assert.deepEqual([claimant.claimsToReplace, claimant.claimSignedByOldKey], [1, true]);
    } finally {
      store.close();
    }
    // Opening it again finds the column in place.
    const again = new SqliteStore(path);
    assert.equal((await again.getComputer(2))!.claimsToReplace, 1);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const KID = "a".repeat(40);

Deno.test("recordDocument() numbers each kind 1, 2, 3… and tells the signer what it replaces", async () => {
  const store = new SqliteStore(":memory:");
  try {
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
  } finally {
    store.close();
  }
});

Deno.test("recordDocument() signs again with the next serial when another session recorded one meanwhile", async () => {
  const path = `${await Deno.makeTempDir()}/store.db`;
  const mine = new SqliteStore(path);
  const other = new SqliteStore(path);
  try {
    const serials: number[] = [];
    const recorded = await mine.recordDocument("revocations", async (serial) => {
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
    mine.close();
    other.close();
    await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  }
});

Deno.test("deployEncryptionKey() records the certificate and the key's role together, or neither when signing fails", async () => {
  const store = new SqliteStore(":memory:");
  try {
    await store.addEncryptionKey({
      kid: KID,
      spki: "x",
      bits: 2048,
      role: "pending",
      createdAt: 1,
      deployedAt: null,
      retiredAt: null,
    });
    await assert.rejects(
      store.deployEncryptionKey(KID, () => Promise.reject(new Error("no")), 5),
      /no/,
    );
    assert.equal((await store.listEncryptionKeys())[0].role, "pending");
    assert.equal(await store.getDocument("encryption-certificate"), null);
    const recorded = await store.deployEncryptionKey(KID, (s) => Promise.resolve(`cert ${s}`), 5);
    assert.equal(recorded.serial, 1);
    assert.equal((await store.listEncryptionKeys())[0].role, "current");
    const disabled = await store.disableEncryption((s) => Promise.resolve(`off ${s}`), 6);
    assert.deepEqual(disabled, { serial: 2, document: "off 2" });
    assert.equal((await store.listEncryptionKeys())[0].role, "previous");
  } finally {
    store.close();
  }
});

Deno.test("SqliteStore.lastReport() gives the report with the highest sequence number", async () => {
  const store = new SqliteStore(":memory:");
  try {
    assert.equal(await store.lastReport(1), null);
    const report = (seq: number) => ({
      computerId: 1,
      seq,
      receivedAt: seq,
      encrypted: false,
      kid: null,
      body: `{"seq":${seq}}`,
      digest: String(seq),
      encryptionLevel: null,
    });
    await store.storeReports([report(3), report(10), report(2)]);
    assert.equal((await store.lastReport(1))?.body, '{"seq":10}');
  } finally {
    store.close();
  }
});
