/**
 * Where the store is, for `mle-server run` and every `mle-admin` command that reads or writes
 * it: the embedded SQLite database in the data dir (the default), or a PostgreSQL database
 * shared by several servers (`--database postgres://USER@HOST:PORT/DATABASE`, or
 * `MLE_DATABASE_URL`). The password stays off the command line: `--database-password-file FILE`
 * (owner-only), else `MLE_DATABASE_PASSWORD`, else PostgreSQL's own `PGPASSWORD`.
 *
 * @module
 */

import { readPasswordFile } from "./password.ts";
import { UsageError } from "./output.ts";
import { secretVariable } from "./secret_environment.ts";
import {
  isPostgresUrl,
  type PostgresLocation,
  redactDatabaseUrl,
} from "../store/_postgres_database.ts";

/** Environment variable naming the PostgreSQL database. */
export const DATABASE_URL_ENV = "MLE_DATABASE_URL";
/** Environment variable holding its password (withdrawn from the environment at start). */
export const DATABASE_PASSWORD_ENV = "MLE_DATABASE_PASSWORD";

/** The declarations of the database options (`cli/flags.ts`). */
export const DATABASE_OPTIONS = {
  database: { type: "string" },
  "database-password-file": { type: "string", path: true },
} as const;

/** Help lines of the database options (aligned with the other options of `--help`). */
export const DATABASE_OPTIONS_HELP =
  `  --database URL                 keep the store in PostgreSQL instead of the data dir's SQLite
                                 file: postgres://USER@HOST:PORT/DATABASE (env ${DATABASE_URL_ENV});
                                 several servers may share one database
  --database-password-file FILE  its password, first line of an owner-only file; else
                                 ${DATABASE_PASSWORD_ENV} or PGPASSWORD (never in argv)`;

/**
 * The PostgreSQL database the options name, or null for the data dir's SQLite file. A password
 * in the URL works but is warned about by `warn`: the command line shows in `ps`.
 *
 * @throws {UsageError} For a URL that is not `postgres://…`, or a password file without a URL.
 */
export async function resolveDatabase(
  values: { database?: string; "database-password-file"?: string },
  warn: (message: string) => void,
): Promise<PostgresLocation | null> {
  const fromFlag = values.database;
  const url = fromFlag ?? (Deno.env.get(DATABASE_URL_ENV) || undefined);
  const passwordFile = values["database-password-file"];
  if (url === undefined) {
    if (passwordFile !== undefined) {
      throw new UsageError(
        "Cannot use --database-password-file without a database",
        `give --database postgres://USER@HOST:PORT/DATABASE (or set ${DATABASE_URL_ENV})`,
      );
    }
    return null;
  }
  if (!isPostgresUrl(url)) {
    throw new UsageError(
      `Cannot use database "${
        redactDatabaseUrl(url)
      }": expected postgres://USER@HOST:PORT/DATABASE`,
      "without --database the store is the SQLite file in the data dir",
    );
  }
  if (fromFlag !== undefined && new URL(url).password !== "") {
    warn(
      "the database password is on the command line, where other users see it (ps); " +
        "use --database-password-file FILE or PGPASSWORD instead",
    );
  }
  if (passwordFile !== undefined) return { url, password: await readPasswordFile(passwordFile) };
  const password = secretVariable(DATABASE_PASSWORD_ENV);
  return password ? { url, password } : { url };
}
