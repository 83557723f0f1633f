/**
 * The PostgreSQL set-up of `npm run bench -- --database postgres`: a private PostgreSQL on this
 * machine (`tests/private_postgres.ts`, durable: fsync and synchronous commit on, as SQLite's
 * `synchronous=FULL`), a fresh database, what the admin tool and the servers need to reach it
 * (the password in a file, never on a command line), and a second server's data dir holding the
 * same private keys, as the USB transfer would leave it.
 *
 * @module
 */

import { copyFile, mkdir, readdir } from "node:fs/promises";
import { POSTGRES_TEST_PASSWORD, startPrivatePostgres } from "../tests/private_postgres.ts";

/** A benchmark's database. */
export interface BenchDatabase {
  /** Environment for every admin call: the database URL and its password. */
  adminEnv: Record<string, string>;
  /** `--database URL --database-password-file FILE` for each `mle-server run`. */
  serverArgs: string[];
  /** Copies the private keys of `fromDir` into a new server data dir `toDir`. */
  copyKeys(fromDir: string, toDir: string): Promise<void>;
  /** Drops the database and stops the private PostgreSQL. */
  close(): Promise<void>;
}

/** Starts a private, durable PostgreSQL with a fresh database for a run in `root`. */
export async function openBenchDatabase(root: string): Promise<BenchDatabase> {
  const postgres = await startPrivatePostgres({ durable: true });
  const url = await postgres.createDatabase();
  const passwordFile = `${root}/database-password`;
  await Deno.writeTextFile(passwordFile, POSTGRES_TEST_PASSWORD + "\n", { mode: 0o600 });
  return {
    adminEnv: { MLE_DATABASE_URL: url, MLE_DATABASE_PASSWORD: POSTGRES_TEST_PASSWORD },
    serverArgs: ["--database", url, "--database-password-file", passwordFile],
    async copyKeys(fromDir, toDir) {
      const from = `${fromDir}/Encryption Keys`;
      const to = `${toDir}/Encryption Keys`;
      await mkdir(to, { recursive: true, mode: 0o700 });
      await Deno.chmod(toDir, 0o700);
      for (const name of await readdir(from)) await copyFile(`${from}/${name}`, `${to}/${name}`);
    },
    async close() {
      await postgres.dropDatabase(url).catch(() => {});
      postgres.stop();
    },
  };
}
