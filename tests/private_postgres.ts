/**
 * Test support: a private, throw-away PostgreSQL server for the tests (a temp dir and a free port
 * on 127.0.0.1), started from the PostgreSQL binaries found on the machine (`MLE_TEST_PG_BIN`,
 * else `/usr/lib/postgresql/<version>/bin`, else `pg_ctl` on the `PATH`) and stopped at the end,
 * also when a test fails. PostgreSQL refuses to run as root: as root, its commands run as the
 * `postgres` user (else `nobody`) through `setpriv`.
 *
 * Connections over TCP need a password (SCRAM), as in production, so the tests pass it the way
 * an operator does: `PGPASSWORD` or `--database-password-file`, never in a URL on the line.
 *
 * Without PostgreSQL the tests that need it are ignored with {@linkcode POSTGRES_SKIP_REASON}
 * saying how to install it, except under `CI=true`, where they run and fail.
 *
 * @module
 */

import postgres from "postgres";
import { freePort } from "./run_role.ts";

/** The superuser of the private server, and its password. */
export const POSTGRES_TEST_USER = "mle_test";
export const POSTGRES_TEST_PASSWORD = "private postgres test password";

/** A running private server. */
export interface PrivatePostgres {
  port: number;
  /** Creates an empty database; returns its URL (user, no password). */
  createDatabase(): Promise<string>;
  /** Drops a database made by `createDatabase` (closing other sessions on it). */
  dropDatabase(url: string): Promise<void>;
  stop(): void;
}

/** Where the PostgreSQL binaries are, or null. */
export function findPostgresBinaries(): string | null {
  const candidates: string[] = [];
  const fromEnv = Deno.env.get("MLE_TEST_PG_BIN");
  if (fromEnv) candidates.push(fromEnv);
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((entry) => entry.name)
      .filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => `/usr/lib/postgresql/${version}/bin`));
  } catch {
    // not a Debian-style layout
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) if (dir) candidates.push(dir);
  for (const dir of candidates) {
    try {
      if (Deno.statSync(`${dir}/pg_ctl`).isFile && Deno.statSync(`${dir}/initdb`).isFile) {
        return dir;
      }
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Why the PostgreSQL tests are skipped here, or null when they run: they run when PostgreSQL is
 * found, and always under `CI=true` (where a missing PostgreSQL is then a failure).
 */
export const POSTGRES_SKIP_REASON: string | null =
  findPostgresBinaries() !== null || Deno.env.get("CI") === "true"
    ? null
    : "no PostgreSQL found: install it (apt-get install postgresql) or set MLE_TEST_PG_BIN " +
      "to the folder holding initdb and pg_ctl";

interface RunAs {
  /** Prefix of every PostgreSQL command (setpriv when root). */
  prefix: string[];
  uid: number | null;
  gid: number | null;
}

function unprivilegedUser(): RunAs {
  if (Deno.uid() !== 0) return { prefix: [], uid: null, gid: null };
  const passwd = Deno.readTextFileSync("/etc/passwd").split("\n").map((line) => line.split(":"));
  const entry = passwd.find((fields) => fields[0] === "postgres") ??
    passwd.find((fields) => fields[0] === "nobody");
  if (!entry) {
    throw new Error("Cannot run PostgreSQL as root, and found no postgres or nobody user");
  }
  const [uid, gid] = [Number(entry[2]), Number(entry[3])];
  return {
    prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"],
    uid,
    gid,
  };
}

function runSync(runAs: RunAs, command: string, args: string[]): Deno.CommandOutput {
  const [program, ...rest] = [...runAs.prefix, command, ...args];
  return new Deno.Command(program, {
    args: rest,
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).outputSync();
}

/**
 * Starts a private server. `durable` keeps fsync on (for the benchmark); tests run without it.
 *
 * @throws {Error} When PostgreSQL is not found or does not start (the message says why).
 */
export async function startPrivatePostgres(
  options: { durable?: boolean } = {},
): Promise<PrivatePostgres> {
  const bin = findPostgresBinaries();
  if (bin === null) {
    throw new Error(
      "Cannot start a private PostgreSQL: no PostgreSQL found; install it " +
        "(apt-get install postgresql) or set MLE_TEST_PG_BIN to the folder holding initdb and pg_ctl",
    );
  }
  const runAs = unprivilegedUser();
  const root = await Deno.makeTempDir({ prefix: "mle-postgres-" });
  const data = `${root}/data`;
  const passwordFile = `${root}/password`;
  await Deno.writeTextFile(passwordFile, POSTGRES_TEST_PASSWORD, { mode: 0o600 });
  if (runAs.uid !== null) {
    await Deno.chown(root, runAs.uid, runAs.gid);
    await Deno.chown(passwordFile, runAs.uid, runAs.gid);
  }
  const fail = (what: string, output: Deno.CommandOutput) => {
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    Deno.removeSync(root, { recursive: true });
    return new Error(`Cannot start a private PostgreSQL: ${what} failed:\n${text}`);
  };
  const init = runSync(runAs, `${bin}/initdb`, [
    "-D",
    data,
    "-U",
    POSTGRES_TEST_USER,
    `--pwfile=${passwordFile}`,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "-E",
    "UTF8",
    "--no-sync",
  ]);
  if (!init.success) throw fail("initdb", init);
  const port = freePort();
  const settings = [
    `-p ${port}`,
    `-k ${root}`,
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=200",
    ...(options.durable ? [] : ["-c fsync=off", "-c synchronous_commit=off"]),
  ];
  const start = runSync(runAs, `${bin}/pg_ctl`, [
    "-D",
    data,
    "-o",
    settings.join(" "),
    "-l",
    `${root}/log`,
    "-w",
    "-t",
    "60",
    "start",
  ]);
  if (!start.success) throw fail("pg_ctl start", start);

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    globalThis.removeEventListener("unload", stop);
    runSync(runAs, `${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"]);
    Deno.removeSync(root, { recursive: true });
  };
  // Stopped at the end of the test process even when a test failed or forgot to.
  globalThis.addEventListener("unload", stop);

  const admin = postgres({
    host: "127.0.0.1",
    port,
    user: POSTGRES_TEST_USER,
    password: POSTGRES_TEST_PASSWORD,
    database: "postgres",
    max: 1,
    onnotice: () => {},
  });
  let next = 0;
  return {
    port,
    async createDatabase() {
      const name = `mle_test_${++next}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      return `postgres://${POSTGRES_TEST_USER}@127.0.0.1:${port}/${name}`;
    },
    async dropDatabase(url: string) {
      const name = new URL(url).pathname.slice(1);
      if (!/^mle_test_\d+$/.test(name)) throw new RangeError(`Cannot drop "${name}"`);
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    stop() {
      // The admin connection is ended without waiting: the server goes down with it.
      admin.end({ timeout: 0 }).catch(() => {});
      stop();
    },
  };
}

let shared: Promise<PrivatePostgres> | null = null;

/**
 * The private server of this test process, started on first use and stopped when the process
 * ends: tests create a database each on it (fast) instead of a server each.
 */
export function sharedPrivatePostgres(): Promise<PrivatePostgres> {
  shared ??= startPrivatePostgres().then((server) => {
    globalThis.addEventListener("unload", () => server.stop());
    return server;
  });
  return shared;
}
