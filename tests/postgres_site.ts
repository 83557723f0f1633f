/**
 * Test support: a site whose store is a fresh database on the private PostgreSQL
 * (`private_postgres.ts`), the password passed as an operator would (a file or the environment,
 * never a URL on the line), a direct query for assertions, and the test wrapper that skips when
 * PostgreSQL is missing.
 *
 * @module
 */

import postgres from "postgres";
import { freePort } from "./run_role.ts";
import { RecordingProxy } from "./recording_proxy.ts";
import { createSite, type TestSite } from "./test_site.ts";
import {
  POSTGRES_SKIP_REASON,
  POSTGRES_TEST_PASSWORD,
  sharedPrivatePostgres,
} from "./private_postgres.ts";

/** Registers a test that needs PostgreSQL: ignored, saying why, when it is not installed. */
export function postgresTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: POSTGRES_SKIP_REASON ? `${name} (skipped: ${POSTGRES_SKIP_REASON})` : name,
    ignore: POSTGRES_SKIP_REASON !== null,
    fn,
  });
}

/**
 * A site whose store is a fresh database of the private PostgreSQL; held with `await using`, the
 * database and the site's folder are removed at the end of the scope.
 */
export interface PostgresSite extends AsyncDisposable {
  site: TestSite;
  /** The database's URL (through the proxy when one was asked for). */
  url: string;
  /** What `mle-server run` adds: the URL and a password file (never the password on the line). */
  serverArgs: string[];
  /** With `throughProxy`: the TCP proxy the servers reach the database through (cut it). */
  proxy: RecordingProxy | null;
}

/**
 * Creates a site on a fresh PostgreSQL database; `throughProxy` puts a TCP proxy between the
 * servers and the database, which a test cuts to split the network.
 */
export async function postgresSite(options: { throughProxy?: boolean } = {}): Promise<
  PostgresSite
> {
  const database = await sharedPrivatePostgres();
  const direct = await database.createDatabase();
  const proxy = options.throughProxy ? new RecordingProxy(database.port) : null;
  const url = proxy ? direct.replace(`:${database.port}/`, `:${proxy.port}/`) : direct;
  const site = await createSite({ MLE_DATABASE_URL: direct, PGPASSWORD: POSTGRES_TEST_PASSWORD });
  const passwordFile = `${site.root}/database-password`;
  await Deno.writeTextFile(passwordFile, POSTGRES_TEST_PASSWORD + "\n", { mode: 0o600 });
  return {
    site,
    url,
    serverArgs: ["--database", url, "--database-password-file", passwordFile],
    proxy,
    async [Symbol.asyncDispose]() {
      await proxy?.close();
      await database.dropDatabase(direct);
      await Deno.remove(site.root, { recursive: true });
    },
  };
}

/**
 * A second server for a site on a shared database: its own data dir (a copy of the first's, with
 * its key files) and port.
 */
export async function secondServerSite(site: TestSite): Promise<TestSite> {
  const serverDir = `${site.serverDir}-2`;
  const copy = await new Deno.Command("cp", { args: ["-a", site.serverDir, serverDir] }).output();
  if (!copy.success) throw new Error(`cp failed: ${new TextDecoder().decode(copy.stderr)}`);
  return { ...site, serverDir, serverPort: freePort() };
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
