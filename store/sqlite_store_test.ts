import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteDatabase } from "./_sqlite_database.ts";
import {
  assertSearchTextMigrated,
  COMPUTERS_BEFORE_MIGRATION_5,
  reportsBeforeMigration5,
} from "./_test_search_text_migration.ts";
import { StoreSchemaError } from "./migrations.ts";
import { SQLITE_MIGRATIONS } from "./schema_migrations.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { SqliteUploadRecords } from "./sqlite_upload_records.ts";
import { storeConformanceTests } from "./store_conformance.ts";

storeConformanceTests("SqliteStore", {
  async open() {
    const dir = await Deno.makeTempDir({ prefix: "mle-store-test-" });
    const path = `${dir}/mle.db`;
    const store = new SqliteStore(path);
    const uploads = new SqliteUploadRecords(path);
    return {
      store,
      uploads,
      openAnother: () => Promise.resolve(new SqliteStore(path)),
      async cleanup() {
        store.close();
        uploads.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
});

async function withTempFile(body: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mle-store-test-" });
  try {
    await body(`${dir}/mle.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function migrationsOf(path: string): number[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("SELECT version FROM schema_migrations ORDER BY version").all()
      .map((row) => Number((row as Record<string, unknown>).version));
  } finally {
    db.close();
  }
}

/** The versions of the migrations after `version`, in order. */
function versionsAfter(version: number): number[] {
  return SQLITE_MIGRATIONS.map((m) => m.version).filter((v) => v > version);
}

Deno.test("SqliteStore adopts a store made before claims and migrations, adding the claim columns", async () => {
  await withTempFile(async (path) => {
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE computers (
      id INTEGER PRIMARY KEY AUTOINCREMENT, public_key TEXT NOT NULL UNIQUE, host_identity TEXT,
      hostname TEXT, registered_at INTEGER NOT NULL, last_report_at INTEGER, last_kid TEXT,
      encryption_level TEXT, revoked_at INTEGER, replaced_by INTEGER, duplicate_of INTEGER,
      flagged TEXT, removed_at INTEGER)`);
    old.exec(`INSERT INTO computers (public_key, registered_at) VALUES ('old-key', 1)`);
    old.close();
    assert.deepEqual(SqliteDatabase.pendingAt(path).map((m) => m.version), versionsAfter(1));

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
    assert.deepEqual(migrationsOf(path), versionsAfter(0));
    // Opening it again finds the schema current.
    const again = new SqliteStore(path);
    assert.equal((await again.getComputer(2))!.claimsToReplace, 1);
    again.close();
  });
});

// The schema as the code before numbered migrations created it (store and upload records),
// with a report and an upload in it.
const UNNUMBERED_SCHEMA = SQLITE_MIGRATIONS[0].sql.replace(
  "removed_at INTEGER\n)",
  "removed_at INTEGER,\n  claims_to_replace INTEGER,\n  claim_signed_by_old_key INTEGER NOT NULL DEFAULT 0\n)",
);

Deno.test("SqliteStore adopts a file made by the code before numbered migrations, keeping its data", async () => {
  await withTempFile(async (path) => {
    const old = new DatabaseSync(path);
    old.exec(UNNUMBERED_SCHEMA);
    old.exec(`INSERT INTO computers (public_key, registered_at, claims_to_replace,
      claim_signed_by_old_key) VALUES ('k', 1, 7, 1)`);
    old.exec(`INSERT INTO reports VALUES (1, 1, 5, 1, 'kid', '{"a":1}', 'd')`);
    old.close();
    // Adopted at version 2; the later migrations are still to apply.
    assert.deepEqual(SqliteDatabase.pendingAt(path).map((m) => m.version), versionsAfter(2));
    const store = new SqliteStore(path);
    const uploads = new SqliteUploadRecords(path);
    try {
      assert.equal((await store.getComputer(1))!.claimsToReplace, 7);
      assert.equal((await store.listReports(1))[0].body, '{"a":1}');
      assert.deepEqual(
        await store.storeReports([{
          computerId: 1,
          seq: 1,
          receivedAt: 6,
          encrypted: true,
          kid: "kid",
          body: '{"a":1}',
          digest: "d",
          encryptionLevel: null,
        }]),
        ["duplicate"],
      );
      assert.deepEqual(await uploads.listUploads(), []);
    } finally {
      store.close();
      uploads.close();
    }
    assert.deepEqual(migrationsOf(path), versionsAfter(0));
  });
});

Deno.test("SqliteStore creates a new file at the latest version and lists no pending migration", async () => {
  await withTempFile((path) => {
    assert.deepEqual(
      SqliteDatabase.pendingAt(":memory:").map((m) => m.version),
      SQLITE_MIGRATIONS.map((m) => m.version),
    );
    new SqliteStore(path).close();
    assert.deepEqual(migrationsOf(path), SQLITE_MIGRATIONS.map((m) => m.version));
    assert.deepEqual(SqliteDatabase.pendingAt(path), []);
    return Promise.resolve();
  });
});

Deno.test("SqliteStore refuses a file migrated by a newer version (ERR_DATABASE_TOO_NEW)", async () => {
  await withTempFile(async (path) => {
    new SqliteStore(path).close();
    const db = new DatabaseSync(path);
    db.exec("INSERT INTO schema_migrations VALUES (99, 'from the future', 1)");
    db.close();
    assert.throws(
      () => new SqliteStore(path),
      (error: unknown) =>
        error instanceof StoreSchemaError && error.code === "ERR_DATABASE_TOO_NEW" &&
        new RegExp(
          `version 99, newer than this software knows \\(${SQLITE_MIGRATIONS.length}\\); upgrade`,
        )
          .test(error.message),
    );
    assert.throws(() => new SqliteUploadRecords(path), StoreSchemaError);
    await Promise.resolve();
  });
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

Deno.test("SqliteStore migration 5 fills in the search text of each computer's last report", async () => {
  await withTempFile(async (path) => {
    const db = new DatabaseSync(path);
    db.exec(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, " +
        "applied_at INTEGER NOT NULL)",
    );
    for (const migration of SQLITE_MIGRATIONS.filter((m) => m.version < 5)) {
      db.exec(migration.sql);
      db.prepare("INSERT INTO schema_migrations VALUES (?, ?, 1)").run(migration.version, "old");
    }
    db.exec(COMPUTERS_BEFORE_MIGRATION_5);
    const insert = db.prepare("INSERT INTO reports VALUES (?, ?, ?, 0, NULL, ?, 'd')");
    for (const [cid, seq, at, text] of reportsBeforeMigration5("not json")) {
      insert.run(cid, seq, at, text);
    }
    db.close();
    const store = new SqliteStore(path);
    try {
      await assertSearchTextMigrated(store);
    } finally {
      store.close();
    }
  });
});
