/**
 * `mle-admin init-site`: creates the site key (`license.pvk`), the signed masthead, and the server
 * data dir that serves it.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning, UsageError } from "../cli/output.ts";
import { readPassword } from "../cli/password.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { dirname, ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { createSiteKeyFile } from "../keystore/site_key.ts";
import { createMasthead, parseServerUrl } from "../protocol/masthead.ts";
import { DEFAULT_PORT } from "../protocol/paths.ts";
import { DATABASE_FILE } from "../store/mod.ts";
import {
  type CommandContext,
  parseOptions,
  PASSWORD_ENV,
  requiredOption,
  resolveDataDir,
  stringOption,
  stringsOption,
  TOOL,
  wantsHelp,
} from "./_args.ts";
import {
  exists,
  loadDataDirMasthead,
  MASTHEAD_FILE,
  openSiteStore,
  selectedStoreDatabase,
} from "./_site.ts";

/** Fewest characters accepted for a new site key password. */
export const MIN_PASSWORD_LENGTH = 8;

/** Usage of `mle-admin init-site`. */
export const initSiteHelp = `Usage:
  mle-admin init-site --data-dir DIR --site-key FILE --masthead FILE --server-url URL
                      [--server-url URL …] [--site-name NAME] [--password-file FILE]

Creates a new site:
  - the site signing key FILE (license.pvk, mode 0600), sealed under a new password: the root of
    trust. Keep it and its password off clients and relays;
  - the masthead FILE: the site's public identity (server URLs, site public key), signed by the
    site key, to install with every client;
  - the server data dir DIR (mode 0700) with its "Encryption Keys" folder, its database and a copy
    of the masthead, ready for: mle-server run --data-dir DIR.
Nothing existing is overwritten: a data dir that already serves a site is refused.

Options:
  --data-dir DIR         the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  --site-key FILE        where to create the site key (must not exist)
  --masthead FILE        where to write the masthead (must not exist)
  --server-url URL       http(s)://HOST:PORT clients report to; repeat for several servers
  --site-name NAME       a name for the site [default: the first server URL's host]
  --password-file FILE   read the new password from FILE's first line (only its owner may
                         read FILE: chmod 600 FILE)
                         [env: MLE_SITE_PASSWORD; else asked twice on the terminal]
  -h, --help             show this help

Examples:
  mle-admin init-site --data-dir /var/opt/mle-server --site-key ~/site/license.pvk \\
    --masthead ~/site/masthead.json --server-url http://server.example:52311

Exit codes:
  0  done
  1  failed (a file already exists, the data dir serves another site, …)
  2  misuse: unknown option, missing option, bad URL;
     a password file others can read
`;

/** Runs `mle-admin init-site`. */
export async function initSiteCommand(args: string[], context: CommandContext): Promise<number> {
  if (wantsHelp(args)) {
    console.log(initSiteHelp);
    return EXIT.ok;
  }
  const { values } = parseOptions(args, {
    "site-key": { type: "string" },
    masthead: { type: "string" },
    "server-url": { type: "string", multiple: true },
    "site-name": { type: "string" },
    "password-file": { type: "string" },
  });
  const dataDir = resolveDataDir(context);
  const siteKeyPath = requiredOption(values, "site-key", "where to create license.pvk");
  const mastheadPath = requiredOption(values, "masthead", "where to write masthead.json");
  const serverUrls = stringsOption(values, "server-url");
  if (serverUrls.length === 0) {
    throw new UsageError("Missing option --server-url: expected http(s)://HOST:PORT");
  }
  const urls = serverUrls.map((url) => parseServerUrl(url));
  const siteName = stringOption(values, "site-name") ?? urls[0].hostname;
  if (siteName.trim() === "") throw new UsageError("Cannot use an empty --site-name");
  const port = urls[0].port === "" ? DEFAULT_PORT : Number(urls[0].port);

  // Everything that can be refused is refused before the password is asked for.
  for (const [path, what] of [[siteKeyPath, "site key"], [mastheadPath, "masthead"]]) {
    if (await exists(path)) {
      throw new CliError(`Cannot create the ${what} "${path}": a file already exists there`, {
        hint: "nothing is ever overwritten; choose another path or move the old file away",
      });
    }
  }
  if (siteKeyPath === mastheadPath) {
    throw new UsageError("Cannot write the site key and the masthead to the same file");
  }
  await refuseServedDataDir(dataDir);

  const password = await readPassword({
    file: stringOption(values, "password-file"),
    envName: PASSWORD_ENV,
    prompt: `New password for site key "${siteKeyPath}": `,
    confirm: true,
    warn: (message) => printWarning(TOOL, message),
  });
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new CliError(
      `Cannot use the password: it has fewer than ${MIN_PASSWORD_LENGTH} characters`,
      { exitCode: EXIT.usage, hint: "the site key is the root of trust; choose a long password" },
    );
  }

  // Create, and on failure remove what this run created, so that it can be run again.
  const created: string[] = [];
  try {
    const siteKeyDir = dirname(siteKeyPath);
    if (!(await exists(siteKeyDir))) await ensurePrivateDir(siteKeyDir);
    const site = await createSiteKeyFile(siteKeyPath, password);
    created.push(siteKeyPath);

    const masthead = await createMasthead(site.privateKey, site.publicKeyText, {
      siteName,
      serverUrls,
      port,
    });
    const mastheadText = JSON.stringify(masthead);

    const mastheadDir = dirname(mastheadPath);
    if (!(await exists(mastheadDir))) await Deno.mkdir(mastheadDir, { recursive: true });
    await writeNewFile(mastheadPath, mastheadText + "\n", 0o644);
    created.push(mastheadPath);

    await ensurePrivateDir(dataDir);
    await ensurePrivateDir(encryptionKeysDir(dataDir));
    const dataDirMasthead = joinPath(dataDir, MASTHEAD_FILE);
    await writeNewFile(dataDirMasthead, mastheadText + "\n", 0o644);
    created.push(dataDirMasthead);
    const store = await openSiteStore(dataDir);
    try {
      await store.putDocument("masthead", mastheadText);
    } finally {
      store.close();
    }

    console.log([
      `Created site "${siteName}"`,
      `  site key:        ${siteKeyPath} (keep it and its password safe, off clients and relays)`,
      `  site public key: ${site.publicKeyText}`,
      `  masthead:        ${mastheadPath} (install it with every client)`,
      `  server data dir: ${dataDir}`,
      `  server URLs:     ${serverUrls.join(" ")}`,
      "Next: mle-server run --data-dir " + quoteIfNeeded(dataDir) +
      ", then turn on encryption: mle-admin encryption generate --site-key " +
      quoteIfNeeded(siteKeyPath),
    ].join("\n"));
    return EXIT.ok;
  } catch (error) {
    for (const path of created.reverse()) await Deno.remove(path).catch(() => {});
    throw error;
  }
}

/** Refuses a data dir that already serves a site: a new site key would orphan its clients. */
async function refuseServedDataDir(dataDir: string): Promise<void> {
  const hasMastheadFile = await exists(joinPath(dataDir, MASTHEAD_FILE));
  const hasDatabase = selectedStoreDatabase() !== null ||
    await exists(joinPath(dataDir, DATABASE_FILE));
  if (!hasMastheadFile && !hasDatabase) return;
  let siteName = "";
  if (hasDatabase) {
    const store = await openSiteStore(dataDir);
    try {
      const masthead = await loadDataDirMasthead(dataDir, store).catch(() => null);
      if (masthead === null && !hasMastheadFile) return;
      siteName = masthead ? ` "${masthead.siteName}"` : "";
    } finally {
      store.close();
    }
  }
  throw new CliError(`Cannot create a site in "${dataDir}": it already serves site${siteName}`, {
    hint: "a new site key would orphan that site's clients; give another --data-dir",
  });
}

async function writeNewFile(path: string, text: string, mode: number): Promise<void> {
  await Deno.writeTextFile(path, text, { createNew: true, mode });
}

function quoteIfNeeded(path: string): string {
  return /^[\w@%+=:,./~-]+$/.test(path) ? path : `"${path}"`;
}
