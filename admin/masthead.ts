/**
 * `mle-admin masthead add-server URL`: re-signs the site's masthead with one more server URL (the
 * parents of last resort of every client and relay), with the same site key, so that clients
 * accept it as the same site's.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { replaceFileAtomically } from "../keystore/secure_file.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { createMasthead, parseServerUrl } from "../protocol/masthead.ts";
import { normalParentUrl } from "../protocol/parent_list.ts";
import {
  type AdminCommand,
  type CommandContext,
  parseOptions,
  resolveDataDir,
  stringOption,
  subcommandGroup,
} from "./_args.ts";
import {
  exists,
  MASTHEAD_FILE,
  openExistingStore,
  openSiteKey,
  requireDataDirMasthead,
} from "./_site.ts";

/** Usage of `mle-admin masthead`. */
export const mastheadHelp = `Usage:
  mle-admin masthead add-server URL --site-key FILE [--out FILE] [--password-file FILE]
  mle-admin masthead show [--json]

add-server: re-signs the site's masthead with one more server URL, after those it lists. Clients
and relays try the masthead's servers, in order, after their own parents (--parent, and the
site's __RelayServer1/2 settings), so a listed server is where they go when every parent fails.
The new masthead carries the same site key (clients accept no other) and is stored where servers
serve it from (the store, and DIR/masthead.json); servers serve it after a restart, and clients
install it with: mle-client report --masthead FILE.

Options:
  --site-key FILE        the site key (license.pvk) [env: MLE_SITE_KEY]
  --password-file FILE   its password, first line of an owner-only file
                         [env: MLE_SITE_PASSWORD; else asked on the terminal]
  --out FILE             also write the new masthead to FILE (must not exist), to install it
                         with clients
  --json                 (show) print the masthead as JSON
  -h, --help             show this help

Examples:
  mle-admin masthead add-server http://server2.example:52311 --site-key ~/site/license.pvk \\
    --out ~/site/masthead-2.json
  mle-admin masthead show

Exit codes:
  0  done (also when the URL is already listed: nothing to do)
  1  failed (no site in the data dir, a site key of another site, --out exists, …)
  2  misuse: unknown option, missing URL, bad URL
`;

/** Runs `mle-admin masthead …`. */
export const mastheadCommand: AdminCommand = subcommandGroup("masthead", mastheadHelp, {
  "add-server": addServerCommand,
  show: showMasthead,
});

async function addServerCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    "site-key": { type: "string" },
    "password-file": { type: "string" },
    out: { type: "string" },
  }, true);
  if (positionals.length !== 1) {
    throw new UsageError("Expected one server URL: mle-admin masthead add-server URL");
  }
  parseServerUrl(positionals[0]);
  return await addServer(resolveDataDir(context), normalParentUrl(positionals[0]), {
    siteKey: stringOption(values, "site-key") || undefined,
    passwordFile: stringOption(values, "password-file"),
    out: stringOption(values, "out"),
  });
}

async function showMasthead(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseOptions(args, { json: { type: "boolean" } });
  const dataDir = resolveDataDir(context);
  const store = await openExistingStore(dataDir);
  try {
    const masthead = await requireDataDirMasthead(dataDir, store);
    if (values.json === true) console.log(JSON.stringify(masthead, null, 2));
    else {
      console.log(`Site            ${masthead.siteName}`);
      console.log(`Site public key ${masthead.sitePublicKey}`);
      console.log(`Signed          ${masthead.createdAt}`);
      masthead.serverUrls.forEach((url, index) => console.log(`Server ${index + 1}        ${url}`));
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}

async function addServer(
  dataDir: string,
  url: string,
  options: { siteKey?: string; passwordFile?: string; out?: string },
): Promise<number> {
  if (options.out !== undefined && await exists(options.out)) {
    throw new CliError(`Cannot write the masthead to "${options.out}": a file already exists`, {
      hint: "nothing is ever overwritten; give another --out",
    });
  }
  const store = await openExistingStore(dataDir);
  try {
    const masthead = await requireDataDirMasthead(dataDir, store);
    if (masthead.serverUrls.map(normalParentUrl).includes(url)) {
      console.log(`The masthead already lists ${url}; nothing to do`);
      return EXIT.ok;
    }
    // Authenticates the act, and refuses a key of another site: clients would refuse the result.
    const site = await openSiteKey(
      { path: options.siteKey, passwordFile: options.passwordFile, argvPassword: undefined },
      "--site-key",
      masthead,
    );
    const serverUrls = [...masthead.serverUrls, url];
    const document = await createMasthead(site.privateKey, site.publicKeyText, {
      siteName: masthead.siteName,
      serverUrls,
      port: masthead.port,
    });
    const text = JSON.stringify(document);
    await store.putDocument("masthead", text);
    await replaceFileAtomically(joinPath(dataDir, MASTHEAD_FILE), text + "\n", 0o644);
    if (options.out !== undefined) {
      await Deno.writeTextFile(options.out, text + "\n", { createNew: true, mode: 0o644 });
    }
    console.log(
      [
        `Re-signed the masthead of site "${masthead.siteName}" with ${serverUrls.length} servers:`,
        ...serverUrls.map((server, index) => `  ${index + 1}. ${server}`),
        "Servers serve it after a restart; clients install it with: mle-client report --masthead " +
        (options.out ?? joinPath(dataDir, MASTHEAD_FILE)),
      ].join("\n"),
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}
