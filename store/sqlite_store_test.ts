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
