/**
 * Test support: a site whose store is a fresh database on the private PostgreSQL
 * (`private_postgres.ts`), the password passed as an operator would (a file or the environment,
 * never a URL on the line), a direct query for assertions, and the test wrapper that skips when
 * PostgreSQL is missing.
 *
 * @module
 */

import postgres from "postgres";
import { createSite, type TestSite } from "./deployment.ts";
import {
  POSTGRES_SKIP_REASON,
  POSTGRES_TEST_PASSWORD,
  sharedPrivatePostgres,
} from "./private_postgres.ts";

/** A site on its own PostgreSQL database. */
export interface PostgresSite {
  site: TestSite;
  url: string;
  /** `--database URL --database-password-file FILE` for `mle-server run`. */
  serverArgs: string[];
  cleanup(): Promise<void>;
}

/** Registers a test that needs PostgreSQL: ignored, saying why, when it is not installed. */
export function postgresTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: POSTGRES_SKIP_REASON ? `${name} (skipped: ${POSTGRES_SKIP_REASON})` : name,
    ignore: POSTGRES_SKIP_REASON !== null,
    fn,
  });
}

/** A site whose store is a fresh PostgreSQL database; the password never on a command line. */
export async function postgresSite(): Promise<PostgresSite> {
  const server = await sharedPrivatePostgres();
  const url = await server.createDatabase();
  const site = await createSite({ MLE_DATABASE_URL: url, PGPASSWORD: POSTGRES_TEST_PASSWORD });
  const passwordFile = `${site.root}/database-password`;
  await Deno.writeTextFile(passwordFile, POSTGRES_TEST_PASSWORD + "\n", { mode: 0o600 });
  return {
    site,
    url,
    serverArgs: ["--database", url, "--database-password-file", passwordFile],
    async cleanup() {
      await server.dropDatabase(url);
      await Deno.remove(site.root, { recursive: true });
    },
  };
}

/** Runs one statement on the database at `url` and returns its rows. */
export async function query(url: string, text: string): Promise<Record<string, unknown>[]> {
  const sql = postgres(url, { password: POSTGRES_TEST_PASSWORD, onnotice: () => {} });
  try {
    return [...await sql.unsafe(text)];
  } finally {
    await sql.end();
  }
}
