/**
 * `mle-admin db migrate`: brings the store's schema up to date (the server does the same when it
 * starts), or, with `--dry-run`, prints the migrations it would apply without changing anything.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { pendingMigrationsAt, redactDatabaseUrl } from "../store/mod.ts";
import { type CommandContext, parseOptions, resolveDataDir } from "./_args.ts";
import { openExistingStore, selectedStoreDatabase } from "./_site.ts";

/** Usage of `mle-admin db`. */
export const dbHelp = `Usage: mle-admin db migrate [--dry-run] [--database URL | --data-dir DIR]

Applies the pending schema migrations of the store: the PostgreSQL database of --database (or
MLE_DATABASE_URL), else the SQLite file of the data dir. Servers apply them when they start, one
at a time under a lock; this command lets you apply or review them first. A database migrated by
a newer version is refused (ERR_DATABASE_TOO_NEW): upgrade this tool instead.

Options:
  --dry-run        print the pending migrations (version and what each changes); change nothing
  -h, --help       show this help

Examples:
  mle-admin db migrate --dry-run --database postgres://mle@db.example:5432/mle
  mle-admin db migrate --data-dir /var/opt/mle-server

Exit codes:
  0  done (or nothing pending)
  1  failed: the database cannot be reached, or is newer than this version
  2  misuse of the command line
`;

/** Runs `mle-admin db …`. */
export async function dbCommand(args: string[], context: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "migrate") {
    throw new UsageError(
      sub === undefined ? "Missing db command: expected migrate" : `Unknown db command "${sub}"`,
      "run mle-admin db migrate --dry-run",
    );
  }
  const { values } = parseOptions(rest, { "dry-run": { type: "boolean", default: false } });
  const dataDir = resolveDataDir(context);
  const database = selectedStoreDatabase();
  const where = database ? `database "${redactDatabaseUrl(database.url)}"` : `"${dataDir}"`;
  let pending;
  try {
    pending = await pendingMigrationsAt(dataDir, database);
  } catch (error) {
    throw new CliError((error as Error).message, {
      hint: (error as { code?: string }).code === "ERR_DATABASE_TOO_NEW"
        ? "nothing was changed"
        : "check --database and the password (--database-password-file or PGPASSWORD)",
    });
  }
  if (pending.length === 0) {
    console.log(`The store of ${where} is up to date: no migration pending`);
    return EXIT.ok;
  }
  const lines = pending.map((migration) => `  ${migration.version}  ${migration.name}`);
  if (values["dry-run"] === true) {
    console.log(
      [`Pending migrations of the store of ${where} (not applied):`, ...lines].join("\n"),
    );
    return EXIT.ok;
  }
  (await openExistingStore(dataDir)).close();
  console.log([`Applied to the store of ${where}:`, ...lines].join("\n"));
  return EXIT.ok;
}
