/**
 * What most admin acts need before they change anything: the server data dir's store and site
 * (its masthead), and the site key opened with its password and checked against that masthead.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning } from "../cli/output.ts";
import { readPassword } from "../cli/password.ts";
import { MleError } from "../envelope/errors.ts";
import { joinPath, pathExists } from "../keystore/secure_file.ts";
import { openSiteKeyFile, type SiteKey } from "../keystore/site_key.ts";
import { type Masthead, verifyMasthead } from "../protocol/masthead.ts";
import {
  DATABASE_FILE,
  openStoreAt,
  openUploadRecordsAt,
  type PostgresLocation,
  type Store,
} from "../store/mod.ts";
import type { UploadRecords } from "../store/upload_records.ts";
import { DecisionError } from "../store/computer_decisions.ts";
import { type ParsedOptions, PASSWORD_ENV, SITE_KEY_ENV, stringOption, TOOL } from "./_args.ts";
import { expandHome } from "../cli/home_path.ts";

/** File name of the masthead copy in a server data dir. */
export const MASTHEAD_FILE = "masthead.json";

/** True when something stands at `path` (`cli/path_exists.ts`, under the admin modules' name). */
export { pathExists as exists };

let selectedDatabase: PostgresLocation | null = null;

/**
 * Makes the stores this process opens the PostgreSQL database of `--database` (or
 * `MLE_DATABASE_URL`), or, with null, the data dir's SQLite file. `main` calls it once, before
 * any command runs: one admin invocation works on one store.
 */
export function useDatabase(database: PostgresLocation | null): void {
  selectedDatabase = database;
}

/** The PostgreSQL database in use, or null for the data dir's SQLite file. */
export function selectedStoreDatabase(): PostgresLocation | null {
  return selectedDatabase;
}

/**
 * Opens the store: the PostgreSQL database in use, else the SQLite file of an existing server
 * data dir (never creating one: a typo in `--data-dir` must not leave an empty database behind).
 *
 * @throws {CliError} When the data dir holds no store, or the database cannot be opened.
 */
export async function openExistingStore(dataDir: string): Promise<Store> {
  if (selectedDatabase === null && !(await pathExists(joinPath(dataDir, DATABASE_FILE)))) {
    throw new CliError(
      `Cannot find a server data dir at "${dataDir}": it has no ${DATABASE_FILE}`,
      {
        hint: "give --data-dir DIR (or set MLE_DATA_DIR), --database URL for a PostgreSQL " +
          "store, or create the site with: mle-admin init-site",
      },
    );
  }
  return await openSiteStore(dataDir);
}

/** Opens (creating it if needed) the store in use: for `init-site`. */
export async function openSiteStore(dataDir: string): Promise<Store> {
  try {
    return await openStoreAt(dataDir, selectedDatabase, TOOL);
  } catch (error) {
    throw databaseError(error);
  }
}

/** Opens the upload records beside the store in use (the data dir must hold a store). */
export async function openExistingUploadRecords(dataDir: string): Promise<UploadRecords> {
  (await openExistingStore(dataDir)).close();
  try {
    return await openUploadRecordsAt(dataDir, selectedDatabase);
  } catch (error) {
    throw databaseError(error);
  }
}

function databaseError(error: unknown): unknown {
  if (selectedDatabase === null || !(error instanceof Error)) return error;
  return new CliError(error.message, {
    hint: (error as { code?: string }).code === "ERR_DATABASE_TOO_NEW"
      ? "nothing was changed"
      : "check --database, the password (--database-password-file, MLE_DATABASE_PASSWORD or " +
        "PGPASSWORD) and that the database server is reachable",
  });
}

/**
 * Reads and verifies the data dir's masthead: the store's copy first, else `masthead.json`.
 *
 * @throws {CliError} When the data dir has no masthead.
 */
export async function loadDataDirMasthead(
  dataDir: string,
  store: Store,
): Promise<Masthead | null> {
  let text = await store.getDocument("masthead");
  if (text === null) {
    try {
      text = await Deno.readTextFile(joinPath(dataDir, MASTHEAD_FILE));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new CliError(`Cannot read the masthead of "${dataDir}": it is not JSON`);
  }
  return (await verifyMasthead(document)).masthead;
}

/** Like {@linkcode loadDataDirMasthead}, but a data dir without a site is an error. */
export async function requireDataDirMasthead(dataDir: string, store: Store): Promise<Masthead> {
  const masthead = await loadDataDirMasthead(dataDir, store);
  if (masthead === null) {
    throw new CliError(`Cannot find a site in "${dataDir}": it has no masthead`, {
      hint: "create the site first with: mle-admin init-site",
    });
  }
  return masthead;
}

/** Where the site key and its password come from. */
export interface SiteKeySource {
  /** Path of `license.pvk`; falls back to `MLE_SITE_KEY`. */
  path: string | undefined;
  /** `--password-file`. */
  passwordFile: string | undefined;
  /** The legacy `-sitePvkPassword=` value (warned against). */
  argvPassword: string | undefined;
}

/**
 * Refuses a computer id the store does not know, before anything is signed or changed:
 * `Cannot <action> computer ID: no such computer`, with the command that lists them.
 */
export async function requireKnownComputers(
  store: Store,
  ids: Iterable<number>,
  action: string,
): Promise<void> {
  for (const id of ids) {
    if ((await store.getComputer(id)) === null) {
      throw new CliError(`Cannot ${action} computer ${id}: no such computer`, {
        hint: "see the computers with: mle-admin computers list",
      });
    }
  }
}

/** The options of every subcommand that signs with the site key. */
export const SITE_KEY_OPTIONS = {
  "site-key": { type: "string" },
  "password-file": { type: "string" },
} as const;

/** The site key source that {@linkcode SITE_KEY_OPTIONS} name (no argv password: never here). */
export function siteKeySourceOf(values: ParsedOptions["values"]): SiteKeySource {
  return {
    path: stringOption(values, "site-key") || undefined,
    passwordFile: stringOption(values, "password-file"),
    argvPassword: undefined,
  };
}

/** The site key path of a source, or a usage error naming the option to give. */
export function siteKeyPath(source: SiteKeySource, optionName: string): string {
  const path = source.path ?? (Deno.env.get(SITE_KEY_ENV) || undefined);
  if (path === undefined || path === "") {
    throw new CliError(`Missing option ${optionName}: expected the site key file (license.pvk)`, {
      exitCode: EXIT.usage,
      hint: `give ${optionName} FILE or set ${SITE_KEY_ENV}`,
    });
  }
  return expandHome(path);
}

/**
 * The store and site of an act on the computers `ids`: the data dir's store, its masthead
 * (required), and every id checked known before anything is signed. The store is closed again
 * when a check refuses; otherwise the caller closes it.
 *
 * @throws {CliError} For a data dir without a store or a site, or an unknown computer id.
 */
export async function openSiteForComputers(
  dataDir: string,
  ids: Iterable<number>,
  action: string,
): Promise<{ store: Store; masthead: Masthead }> {
  const store = await openExistingStore(dataDir);
  try {
    const masthead = await requireDataDirMasthead(dataDir, store);
    await requireKnownComputers(store, ids, action);
    return { store, masthead };
  } catch (error) {
    store.close();
    throw error;
  }
}

/**
 * Opens the site key: asks for its password (file, environment, prompt or, warned, the command
 * line) and checks that it is the key of the site this data dir serves. This is what
 * authenticates an admin act, so it comes before anything is written.
 *
 * @throws {CliError} For a missing file or a key of another site; `MleError`
 * `ERR_WRONG_PASSWORD` for a wrong password (runCommand prints it with a hint).
 */
export async function openSiteKey(
  source: SiteKeySource,
  optionName: string,
  masthead: Masthead | null,
): Promise<SiteKey> {
  const path = siteKeyPath(source, optionName);
  if (!(await pathExists(path))) {
    throw new CliError(`Cannot open site key "${path}": no such file`, {
      hint: `give the license.pvk that init-site created with ${optionName}`,
    });
  }
  const password = await readPassword({
    file: source.passwordFile,
    argv: source.argvPassword,
    envName: PASSWORD_ENV,
    prompt: `Password of site key "${path}": `,
    warn: (message) => printWarning(TOOL, message),
  });
  let site: SiteKey;
  try {
    site = await openSiteKeyFile(path, password);
  } catch (error) {
    if (error instanceof MleError && error.code === "ERR_WRONG_PASSWORD") {
      throw new CliError(
        `Cannot open site key "${path}": wrong password, or the file was altered`,
        {
          hint: "nothing was changed; run the command again with the right password",
        },
      );
    }
    throw error;
  }
  if (masthead !== null && masthead.sitePublicKey !== site.publicKeyText) {
    throw new CliError(
      `Cannot use site key "${path}": it is not the key of site "${masthead.siteName}" that this data dir serves`,
      { hint: "give the license.pvk that created this data dir's masthead" },
    );
  }
  return site;
}

/**
 * Runs a signed decision's recording, turning its refusal (`DecisionError`) into the tool's
 * error with the same message.
 */
export async function decided<T>(record: () => Promise<T>): Promise<T> {
  try {
    return await record();
  } catch (error) {
    if (error instanceof DecisionError) throw new CliError(error.message);
    throw error;
  }
}
