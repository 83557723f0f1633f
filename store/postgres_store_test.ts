import assert from "node:assert/strict";
import postgres from "postgres";
import {
  POSTGRES_SKIP_REASON,
  POSTGRES_TEST_PASSWORD,
  sharedPrivatePostgres,
} from "../tests/private_postgres.ts";
import { pendingPostgresMigrations } from "./_postgres_database.ts";
import {
  assertSearchTextMigrated,
  COMPUTERS_BEFORE_MIGRATION_5,
  reportsBeforeMigration5,
} from "./_test_search_text_migration.ts";
import { StoreSchemaError } from "./migrations.ts";
import { POSTGRES_MIGRATIONS } from "./schema_migrations.ts";
import { PostgresStore } from "./postgres_store.ts";
import { PostgresUploadRecords } from "./postgres_upload_records.ts";
import { storeConformanceTests } from "./store_conformance.ts";

const password = POSTGRES_TEST_PASSWORD;

storeConformanceTests("PostgresStore", {
  ignoreReason: POSTGRES_SKIP_REASON,
  async open() {
    const server = await sharedPrivatePostgres();
    const url = await server.createDatabase();
    const store = await PostgresStore.open({ url, password });
    const uploads = await PostgresUploadRecords.open({ url, password });
    return {
      store,
      uploads,
      openAnother: () => PostgresStore.open({ url, password }),
      async cleanup() {
        store.close();
        uploads.close();
        await server.dropDatabase(url);
      },
    };
  },
});

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({
    name: POSTGRES_SKIP_REASON ? `${name} (skipped: ${POSTGRES_SKIP_REASON})` : name,
    ignore: POSTGRES_SKIP_REASON !== null,
    fn,
  });

/** Runs `body` on a new, empty database of the shared test server, dropped afterwards. */
async function withNewDatabase(body: (url: string) => Promise<void>): Promise<void> {
  const server = await sharedPrivatePostgres();
  const url = await server.createDatabase();
  try {
    await body(url);
  } finally {
    await server.dropDatabase(url);
  }
}

/** A direct connection to a test database, as its owner. */
function connect(url: string): postgres.Sql {
  return postgres(url, { password, onnotice: () => {} });
}

test("PostgresStore migrates a new database once, even when several open it at once", async () => {
  await withNewDatabase(async (url) => {
    assert.deepEqual(
      (await pendingPostgresMigrations({ url, password })).map((m) => m.version),
      POSTGRES_MIGRATIONS.map((m) => m.version),
    );
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStore.open({ url, password })),
    );
    for (const store of stores) store.close();
    assert.deepEqual(await pendingPostgresMigrations({ url, password }), []);
    const sql = connect(url);
    const rows = await sql`SELECT version FROM schema_migrations ORDER BY version`;
    await sql.end();
    assert.deepEqual(rows.map((row) => row.version), POSTGRES_MIGRATIONS.map((m) => m.version));
  });
});

test("PostgresStore refuses a database migrated by a newer version (ERR_DATABASE_TOO_NEW)", async () => {
  await withNewDatabase(async (url) => {
    (await PostgresStore.open({ url, password })).close();
    const sql = connect(url);
    await sql`INSERT INTO schema_migrations VALUES (99, 'from the future', 1)`;
    await sql.end();
    await assert.rejects(
      PostgresStore.open({ url, password }),
      (error: unknown) =>
        error instanceof StoreSchemaError && error.code === "ERR_DATABASE_TOO_NEW" &&
        /version 99/.test(error.message),
    );
    await assert.rejects(pendingPostgresMigrations({ url, password }), StoreSchemaError);
  });
});

test("PostgresStore names the database but never the password when the login fails", async () => {
  await withNewDatabase(async (url) => {
    const wrong = "a wrong password that must not leak";
    await assert.rejects(
      PostgresStore.open({ url: url.replace("mle_test@", `mle_test:${wrong}@`) }),
      (error: Error) =>
        error.message.startsWith('Cannot open database "postgres://mle_test:REDACTED@') &&
        /password authentication failed/.test(error.message) && !error.message.includes(wrong),
    );
  });
});

test("PostgresStore migration 5 fills in the search text of each computer's last report", async () => {
  await withNewDatabase(async (url) => {
    const sql = connect(url);
    try {
      await sql.unsafe(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, " +
          "applied_at bigint NOT NULL)",
      );
      for (const migration of POSTGRES_MIGRATIONS.filter((m) => m.version < 5)) {
        await sql.unsafe(migration.sql);
        await sql`INSERT INTO schema_migrations VALUES (${migration.version}, 'old', 1)`;
      }
      await sql.unsafe(COMPUTERS_BEFORE_MIGRATION_5);
      // A body jsonb refuses: the NUL character.
      const unreadable = String.raw`{"properties":{"os":"Nul\u0000OS"},"custom":{}}`;
      for (const [cid, seq, at, text] of reportsBeforeMigration5(unreadable)) {
        await sql`INSERT INTO reports VALUES (${cid}, ${seq}, ${at}, 0, NULL, ${text}, 'd')`;
      }
      const store = await PostgresStore.open({ url, password });
      try {
        await assertSearchTextMigrated(store);
      } finally {
        store.close();
      }
    } finally {
      await sql.end();
    }
  });
});
