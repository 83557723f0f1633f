/**
 * `mle-admin relays allow|disallow|list`: which registered computers the server accepts report
 * bundles from.
 *
 * A decrypting relay registers with the server like a client (its own key pair in its
 * `KeyStorage`) and signs every bundle with that key. Registering is open to anyone, so it gives
 * no right to send bundles: the administrator allows a relay's computer id with the site key, and
 * the server accepts bundles only from allowed, non-revoked computers. Even an allowed relay cannot
 * forge, alter or re-attribute a report, because the server checks every client's own signature
 * inside the bundle; allowing a relay trusts it only with what its key lets it decrypt.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import {
  type AdminCommand,
  type CommandContext,
  parseComputerId,
  parseOptions,
  resolveDataDir,
  subcommandGroup,
} from "./_args.ts";
import { formatTable, formatTime } from "./_format.ts";
import {
  decided,
  openExistingStore,
  openSiteKey,
  requireDataDirMasthead,
  SITE_KEY_OPTIONS,
  type SiteKeySource,
  siteKeySourceOf,
} from "./_site.ts";
import { signAndRecordComputerDecision } from "../store/computer_decisions.ts";

/** Usage of `mle-admin relays`. */
export const relaysHelp = `Usage:
  mle-admin relays allow ID --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin relays disallow ID --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin relays list [--json] [--data-dir DIR]

Decrypting relays (mle-relay run --decrypt) send the server bundles of client reports, signed
with the relay's own key. The server accepts a bundle only from a computer allowed here:
  allow     lets computer ID (the relay, which logs "registered as computer ID" on its first
            start) send bundles. The server still checks every client's own signature inside.
  disallow  stops accepting its bundles; the relay then forwards reports untouched.
Allow and disallow are decisions signed with the site key (mle-computer-decision, each
recorded once): the same document the web console signs in the browser.
  list      shows the allowed relays.

Options:
  --site-key FILE      the site key (license.pvk) [env: MLE_SITE_KEY]
  --password-file FILE read the site key's password from FILE's first line (only its
                       owner may read FILE: chmod 600 FILE)
                       [env: MLE_SITE_PASSWORD; else asked on the terminal]
  --data-dir DIR       the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  --json               list as JSON
  -h, --help           show this help

Examples:
  mle-admin relays allow 7 --site-key ~/site/license.pvk
  mle-admin relays list --json

Exit codes:
  0  done
  1  failed (no such computer, revoked, wrong password, …)
  2  misuse: unknown option, bad computer id;
     a password file others can read
`;

/** Runs `mle-admin relays …`. */
export const relaysCommand: AdminCommand = subcommandGroup("relays", relaysHelp, {
  allow: (rest, context) => allowOrDisallow("allow", rest, context),
  disallow: (rest, context) => allowOrDisallow("disallow", rest, context),
  list: async (rest, context) => {
    const { values } = parseOptions(rest, { json: { type: "boolean" } });
    return await listRelays(resolveDataDir(context), values.json === true);
  },
});

async function allowOrDisallow(
  sub: "allow" | "disallow",
  args: string[],
  context: CommandContext,
): Promise<number> {
  const { values, positionals } = parseOptions(args, SITE_KEY_OPTIONS, true);
  if (positionals.length !== 1) {
    throw new UsageError(`Expected one computer id: mle-admin relays ${sub} ID`);
  }
  const id = parseComputerId(positionals[0]);
  return await setAllowed(
    resolveDataDir(context),
    id,
    sub === "allow",
    siteKeySourceOf(values),
  );
}

async function setAllowed(
  dataDir: string,
  id: number,
  allowed: boolean,
  site: SiteKeySource,
): Promise<number> {
  const store = await openExistingStore(dataDir);
  try {
    const masthead = await requireDataDirMasthead(dataDir, store);
    const computer = await store.getComputer(id);
    if (computer === null) {
      throw new CliError(
        `Cannot ${allowed ? "allow" : "disallow"} computer ${id}: no such computer`,
        {
          hint: "start the relay with --decrypt first: it registers and logs its computer id",
        },
      );
    }
    if (allowed && (computer.revokedAt !== null || computer.removedAt !== null)) {
      throw new CliError(`Cannot allow computer ${id}: it was revoked or removed`);
    }
    const already = await store.isBundleSender(id);
    if (already === allowed) {
      console.log(
        `Computer ${id} is already ${allowed ? "allowed" : "not allowed"} to send bundles; ` +
          "nothing to do",
      );
      return EXIT.ok;
    }
    const siteKey = await openSiteKey(site, "--site-key", masthead);
    const action = allowed ? "allow-bundles" : "disallow-bundles";
    await decided(() => signAndRecordComputerDecision(store, siteKey, action, id, Date.now()));
    console.log(
      allowed
        ? `Computer ${id} (${computer.hostname ?? "no hostname"}) may send report bundles: ` +
          "servers accept them from their next bundle"
        : `Computer ${id} may no longer send report bundles: it forwards reports untouched`,
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}

async function listRelays(dataDir: string, json: boolean): Promise<number> {
  const store = await openExistingStore(dataDir);
  try {
    const senders = await store.listBundleSenders();
    const rows = [];
    for (const sender of senders) {
      const computer = await store.getComputer(sender.computerId);
      rows.push({
        computerId: sender.computerId,
        hostname: computer?.hostname ?? null,
        allowedAt: sender.allowedAt,
        revoked: computer?.revokedAt !== null && computer?.revokedAt !== undefined,
      });
    }
    if (json) {
      console.log(JSON.stringify(rows, null, 2));
    } else if (rows.length === 0) {
      console.log("No relay is allowed to send report bundles");
    } else {
      console.log(
        formatTable(
          ["ID", "HOSTNAME", "ALLOWED", "REVOKED"],
          rows.map((row) => [
            String(row.computerId),
            row.hostname ?? "-",
            formatTime(row.allowedAt),
            row.revoked ? "yes" : "no",
          ]),
        ).trimEnd(),
      );
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}
