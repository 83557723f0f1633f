/**
 * Entry of `mle-admin`, the administrator's tool: creates the site, manages the MLE key, signs
 * client settings, and shows computers and their reports. It works on a server data dir and needs
 * no network.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { resolveDatabase } from "../cli/database_option.ts";
import { printWarning, runCommand, UsageError } from "../cli/output.ts";
import { VERSION } from "../protocol/version.ts";
import {
  type AdminCommand,
  type CommandContext,
  extractDatabaseOptions,
  extractDataDir,
  TOOL,
  wantsHelp,
} from "./_args.ts";
import { useDatabase } from "./_site.ts";
import { dbCommand, dbHelp } from "./db.ts";
import { computersCommand, computersHelp } from "./computers.ts";
import { encryptionCommand, encryptionHelp } from "./encryption.ts";
import { initSiteCommand, initSiteHelp } from "./init_site.ts";
import { operatorsCommand, operatorsHelp } from "./operators.ts";
import { mastheadCommand, mastheadHelp } from "./masthead.ts";
import { reportEncryptionCommand } from "./report_encryption.ts";
import { relaysCommand, relaysHelp } from "./relays.ts";
import { reportsCommand, reportsHelp } from "./reports.ts";
import { settingsCommand, settingsHelp } from "./settings.ts";
import { uploadsCommand, uploadsHelp } from "./uploads.ts";

/** Usage of `mle-admin`. */
export const mainHelp = `Usage: mle-admin <command> [options]

The administrator's tool: creates the site, manages the Message Level Encryption key, signs client
settings, shows computers and their reports. It works on a server data dir (--data-dir DIR, anywhere
on the line, or MLE_DATA_DIR), or, for servers sharing a PostgreSQL database, on that database from
any host that reaches it (--database URL, anywhere on the line, or MLE_DATABASE_URL); acts that
change the site need the site key (license.pvk) and its password (--password-file FILE,
MLE_SITE_PASSWORD, or the prompt).

Commands:
  init-site            create the site key, the masthead and the server data dir
      mle-admin init-site --data-dir /var/opt/mle-server --site-key ~/site/license.pvk \\
        --masthead ~/site/masthead.json --server-url http://server.example:52311
  masthead add-server  re-sign the masthead with one more server URL (the parents of last resort)
      mle-admin masthead add-server http://server2.example:52311 --site-key ~/site/license.pvk
  masthead show        the masthead's site, key and server URLs
      mle-admin masthead show
  encryption generate  generate a new encryption key (Pending until deployed)
      mle-admin encryption generate --key-size max --out-key-path /media/usb --site-key ~/site/license.pvk
  encryption deploy    make the pending key the one clients encrypt to (Enabled)
      mle-admin encryption deploy --site-key ~/site/license.pvk
  encryption status    show the encryption state and the keys
      mle-admin encryption status --json
  encryption retire    stop loading an old key (refused while computers used it lately)
      mle-admin encryption retire 3f2a91c0 --site-key ~/site/license.pvk
  encryption export    seal a private key under a transfer password for a USB transfer
      mle-admin encryption export --to /media/usb
  encryption import    install a transferred key on a decrypting relay or DSA server
      mle-admin encryption import --from /media/usb --data-dir /var/opt/mle-relay
  encryption disable   turn encryption off (refused while computers require it)
      mle-admin encryption disable --site-key ~/site/license.pvk
  -reportencryption    the documented syntax of the same (see mle-admin -reportencryption -h)
      mle-admin -reportencryption -generatekey -privateKeySize=max -deploynow=no -outkeypath=<path> -sitePvkLocation=<path+license.pvk> -sitePvkPassword=<password>
      mle-admin -reportencryption -deploynow=yes -sitePvkLocation=<path+license.pvk> -sitePvkPassword=<password>
  settings set         sign client settings for all computers or listed ones
      mle-admin settings set _BESClient_Report_Encryption=optional --all --site-key ~/site/license.pvk
  settings unset       sign the removal of client settings; computers drop them at their next check
      mle-admin settings unset _BESClient_Report_Encryption --computer 12 --site-key ~/site/license.pvk
  settings list        the settings in force, site-wide and per computer, who signed them and when
      mle-admin settings list --computer 12
  computers list       list the registered computers
      mle-admin computers list --json
  computers revoke     refuse a computer's reports from now on; relays learn it from the signed list
      mle-admin computers revoke 1234 --site-key ~/site/license.pvk
  computers confirm    confirm a flagged computer; revokes the one it claims to replace
      mle-admin computers confirm 1240 --site-key ~/site/license.pvk
  computers duplicates list machines that registered again with a new key, without a hand-over
      mle-admin computers duplicates
  computers remove-duplicates  keep the entry that reported last; remove idle duplicates
      mle-admin computers remove-duplicates --dry-run
  reports              show what a computer reported
      mle-admin reports --computer 12
  uploads list         list the files computers uploaded (stored under DIR/uploads/<computer id>/)
      mle-admin uploads list --computer 12 --json
  relays allow         accept report bundles from a decrypting relay (its computer id)
      mle-admin relays allow 7 --site-key ~/site/license.pvk
  relays list          show the relays allowed to send bundles
      mle-admin relays list
  db migrate           apply the pending schema migrations (servers also apply them at start)
      mle-admin db migrate --dry-run --database postgres://mle@db.example/mle
  operators add        let someone sign in to the web console (admin or viewer)
      mle-admin operators add alice --role admin
  operators list|remove|passwd  see, remove operators or change a password
      mle-admin operators list

Options:
  --data-dir DIR   the server data dir, for every command
  --database URL   the PostgreSQL store (postgres://USER@HOST:PORT/DATABASE; env
                   MLE_DATABASE_URL) instead of the data dir's SQLite file, for every command;
                   private keys stay files in each server's data dir
  --database-password-file FILE
                   its password (first line, owner-only file); else MLE_DATABASE_PASSWORD or
                   PGPASSWORD: never on the command line
  -h, --help       show help (also "mle-admin <command> --help")
  --version        print the version

Exit codes:
  0  done
  1  failed (the message says why and what to do)
  2  misuse: unknown command or option, missing option, bad value;
     a password file others can read
`;

const COMMANDS: Record<string, { run: AdminCommand; help: string }> = {
  "init-site": { run: initSiteCommand, help: initSiteHelp },
  masthead: { run: mastheadCommand, help: mastheadHelp },
  encryption: { run: encryptionCommand, help: encryptionHelp },
  settings: { run: settingsCommand, help: settingsHelp },
  computers: { run: computersCommand, help: computersHelp },
  reports: { run: reportsCommand, help: reportsHelp },
  uploads: { run: uploadsCommand, help: uploadsHelp },
  relays: { run: relaysCommand, help: relaysHelp },
  db: { run: dbCommand, help: dbHelp },
  operators: { run: operatorsCommand, help: operatorsHelp },
};

/** True when the line uses the documented `-reportencryption` syntax. */
export function isReportEncryptionLine(args: readonly string[]): boolean {
  return args.some((arg) => /^--?reportencryption$/i.test(arg));
}

/** Runs the admin command line; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(TOOL, async () => {
    const { dataDir, rest: afterDataDir } = extractDataDir(args);
    const { values: databaseValues, rest } = extractDatabaseOptions(afterDataDir);
    const context: CommandContext = { dataDir };
    if (!wantsHelp(rest)) {
      useDatabase(await resolveDatabase(databaseValues, (message) => printWarning(TOOL, message)));
    }
    if (isReportEncryptionLine(rest)) return await reportEncryptionCommand(rest, context);
    const index = rest.findIndex((arg) => !arg.startsWith("-"));
    const name = index < 0 ? undefined : rest[index];
    if (wantsHelp(rest)) {
      if (name === "help" || name === undefined) {
        console.log(mainHelp);
        return EXIT.ok;
      }
      const command = COMMANDS[name];
      console.log(command ? command.help : mainHelp);
      return EXIT.ok;
    }
    if (rest.includes("--version")) {
      console.log(`${TOOL} ${VERSION}`);
      return EXIT.ok;
    }
    if (name === undefined) {
      if (rest.length === 0) {
        console.error(mainHelp);
        return EXIT.usage;
      }
      throw new UsageError(`Unknown option "${rest[0].split("=")[0]}"`);
    }
    if (index > 0) {
      throw new UsageError(
        `Unexpected option "${rest[0].split("=")[0]}" before the command "${name}"`,
        `write it after the command: mle-admin ${name} ${rest[0].split("=")[0]} …`,
      );
    }
    if (name === "help") {
      const topic = rest[1] === undefined ? undefined : COMMANDS[rest[1]];
      console.log(topic ? topic.help : mainHelp);
      return EXIT.ok;
    }
    const command = COMMANDS[name];
    if (!command) {
      throw new UsageError(
        `Unknown command "${name}"`,
        `expected one of ${Object.keys(COMMANDS).join(", ")} or -reportencryption; ` +
          "run mle-admin --help",
      );
    }
    return await command.run(rest.slice(1), context);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
