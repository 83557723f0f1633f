/**
 * `mle-admin encryption generate|deploy|status|retire|export|import|disable`: the MLE key's life on
 * the server, and the one implementation behind the legacy `-reportencryption` syntax too.
 *
 * Disabled → (generate) Pending → (deploy) Enabled → (generate) Pending rotation → (deploy)
 * Enabled with the new key. Old keys stay in `Encryption Keys` (role "previous") so reports
 * already encrypted to them are never lost, until `retire` (refused while computers still used
 * them lately). `export`/`import` carry a key to decrypting relays and DSA servers
 * (`key_transfer.ts`, `key_import.ts`); `generate` lives in `encryption_generate.ts`, `deploy` in
 * `encryption_deploy.ts`, `status` in `encryption_status.ts`, `retire` and `disable` in
 * `encryption_lifecycle.ts`: this file holds the help and reads the subcommands' options.
 *
 * @module
 */

import { UsageError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import {
  type AdminCommand,
  parseOptions,
  resolveDataDir,
  stringOption,
  subcommandGroup,
} from "./_args.ts";
import { SITE_KEY_OPTIONS, siteKeySourceOf } from "./_site.ts";
import { deployEncryptionKey } from "./encryption_deploy.ts";
import { generateEncryptionKey, parseKeySize } from "./encryption_generate.ts";
import { disableEncryption, parseWindowDays, retireEncryptionKey } from "./encryption_lifecycle.ts";
import { showEncryptionStatus } from "./encryption_status.ts";
import { importEncryptionKey } from "./key_import.ts";
import { exportEncryptionKey, TRANSFER_PASSWORD_ENV } from "./key_transfer.ts";

/** Usage of `mle-admin encryption`. */
export const encryptionHelp = `Usage:
  mle-admin encryption generate [--key-size SIZE] [--deploy-now [--force]] [--out-key-path DIR]
                                --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin encryption deploy [--kid KEYID] [--force] --site-key FILE [--password-file FILE]
                              [--data-dir DIR]
  mle-admin encryption status [--json] [--data-dir DIR]
  mle-admin encryption retire KEYID [--window DAYS] [--force] --site-key FILE [--data-dir DIR]
  mle-admin encryption export --to DIR [--kid KEYID] [--transfer-password-file FILE]
                              [--data-dir DIR]
  mle-admin encryption import --from DIR --data-dir DIR [--kid KEYID] [--server] [--deploy]
                              [--masthead FILE] [--transfer-password-file FILE] [--site-key FILE]
  mle-admin encryption disable [--force] --site-key FILE [--password-file FILE] [--data-dir DIR]

Manages the Message Level Encryption key of a server data dir.
  generate  makes a new RSA-OAEP key pair: its private key goes to "<data dir>/Encryption Keys/
            <key id>.pvk" and the key becomes Pending, so that it can be copied to decrypting
            relays and DSA servers before any client uses it. Refused while a key is pending.
  deploy    signs the encryption certificate of the pending key (or --kid) with the site key:
            clients encrypt to it from their next report. The key before it stays usable for
            decryption. Its private key file must be in this data dir's "Encryption Keys", and
            every running server sharing the database, and every running decrypting relay,
            must hold it (unless --force).
  status    shows the state (Disabled, Pending, Enabled, Pending rotation), every key with its
            role (current, previous, pending, retired) and how many computers last reported
            with it, whether its private key file is here and usable (a file others can read is
            refused: "unusable, mode 0644: run chmod 600 …"), which servers sharing the
            database hold it (each server records itself; "-" for a key no server loads; a
            stopped server or one not seen for 30 s is marked so), which decrypting relays
            hold it (each allowed relay tells its server every 10 s; one not seen for 30 s is
            marked "not running"), and, once encryption is disabled, the orphaned computers.
  retire    stops servers from loading a key that is not current. Refused while computers sent
            reports encrypted to it within the window, unless --force: reports still encrypted
            to it (in relay spools, offline clients) could then no longer be decrypted.
  export    writes <key id>.mle-key.json into DIR: the private key sealed under a transfer
            password, with its public key, size, role, the site's masthead and, if deployed, its
            certificate; prints the key's fingerprint to compare on the other side (USB key).
  import    checks a transferred key (password, key id, fingerprint) and installs it into the
            data dir's "Encryption Keys" (0600). A server data dir (it has a database, or
            --server makes one for a DSA server) also records it in its store, and --deploy
            signs its certificate there (the seed's "Deploy key"); any other folder (a decrypting
            relay's) also gets the site's masthead. Also takes the seed's plain <key id>.pvk.
  disable   turns encryption off (signs the "disabled" certificate). Refused while computers
            require encryption (they would be orphaned: listed), unless --force.

Options:
  --key-size SIZE      min (2048), max (4096), 2048, 3072 or 4096 bits [default: max]
  --deploy-now         deploy the new key at once (skips the Pending state)
  --out-key-path DIR   also write a copy of the private key file <key id>.pvk there (mode 0600),
                       for a USB transfer to decrypting relays and DSA servers; the copy is NOT
                       encrypted (it warns): prefer "encryption export", sealed under a password
  --kid KEYID          the key to deploy (a pending or previous key; a unique prefix is enough)
                       [default: the pending key]
  --site-key FILE      the site key (license.pvk) [env: MLE_SITE_KEY]
  --password-file FILE read the site key's password from FILE's first line (only its
                       owner may read FILE: chmod 600 FILE)
                       [env: MLE_SITE_PASSWORD; else asked on the terminal]
  --data-dir DIR       the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  --json               status as JSON: {state, currentKid, pendingKid, keys: [...], …}; each key
                       has privateKeyFile (true when its file is here), privateKeyProblem
                       (null, "not here", or why the file is unusable: "unusable, mode 0644: run
                       chmod 600 …"), servers and relays ({computerId, name, url, live,
                       lastSeenAt} of each decrypting relay holding it)
  --window DAYS        (retire) how far back reports count as use [default: 7]
  --force              (retire, disable) go on although computers would be hurt; (deploy,
                       generate --deploy-now, import --deploy) deploy although a running server
                       sharing the database lacks the key's private key file (refused by
                       default: ERR_KEY_NOT_ON_SERVER, naming the server and the import to run),
                       or a running decrypting relay does (ERR_KEY_NOT_ON_RELAY, likewise)
  --to DIR             (export) the folder to write to, e.g. the USB key
  --from DIR           (import) the folder to read from
  --transfer-password-file FILE
                       (export, import) the transfer password, first line of FILE
                       (only its owner may read FILE: chmod 600 FILE)
                       [env: ${TRANSFER_PASSWORD_ENV}; else asked on the terminal; export asks twice]
  --server             (import) make DIR a server data dir (a DSA server) if it has no database
  --deploy             (import) then deploy the key there (needs --site-key)
  --masthead FILE      (import) the site's masthead, for a data dir that has none
  -h, --help           show this help

The documented syntax works too (see mle-admin -reportencryption -h):
  mle-admin -reportencryption -generatekey -privateKeySize=max -deploynow=no -outkeypath=<path> \\
    -sitePvkLocation=<path+license.pvk>
  mle-admin -reportencryption -deploynow=yes -sitePvkLocation=<path+license.pvk>

Examples:
  mle-admin encryption generate --key-size max --out-key-path /media/usb --site-key ~/site/license.pvk
  mle-admin encryption deploy --site-key ~/site/license.pvk
  mle-admin encryption status --json
  mle-admin encryption retire 3f2a91c0 --window 14 --site-key ~/site/license.pvk
  mle-admin encryption export --to /media/usb
  mle-admin encryption import --from /media/usb --data-dir /var/opt/mle-relay
  mle-admin encryption import --from /media/usb --data-dir /var/opt/mle-dsa --server --deploy \
    --site-key ~/site/license.pvk
  mle-admin encryption disable --site-key ~/site/license.pvk

Exit codes:
  0  done
  1  failed (wrong password, a key already pending, nothing to deploy, key file missing, …)
  2  misuse: unknown option, missing option, bad value;
     a password file others can read
`;

/** The options of export and import that give the transfer password. */
const TRANSFER_OPTIONS = {
  "transfer-password-file": { type: "string" },
  "transfer-password": { type: "string" },
} as const;

/** Runs `mle-admin encryption …` (modern syntax). */
export const encryptionCommand: AdminCommand = subcommandGroup("encryption", encryptionHelp, {
  generate: async (rest, context) => {
    const { values } = parseOptions(rest, {
      ...SITE_KEY_OPTIONS,
      "key-size": { type: "string" },
      "deploy-now": { type: "boolean" },
      "out-key-path": { type: "string" },
      force: { type: "boolean" },
    });
    const bits = parseKeySize(stringOption(values, "key-size") ?? "max");
    const outKeyPath = stringOption(values, "out-key-path");
    if (outKeyPath === "") throw new UsageError("Missing value of option --out-key-path");
    return await generateEncryptionKey({
      dataDir: resolveDataDir(context),
      bits,
      deployNow: values["deploy-now"] === true,
      outKeyPath,
      site: siteKeySourceOf(values),
      siteKeyOption: "--site-key",
      force: values.force === true,
    });
  },
  deploy: async (rest, context) => {
    const { values } = parseOptions(rest, {
      ...SITE_KEY_OPTIONS,
      kid: { type: "string" },
      force: { type: "boolean" },
    });
    return await deployEncryptionKey({
      dataDir: resolveDataDir(context),
      kid: stringOption(values, "kid"),
      site: siteKeySourceOf(values),
      siteKeyOption: "--site-key",
      force: values.force === true,
    });
  },
  status: async (rest, context) => {
    const { values } = parseOptions(rest, { json: { type: "boolean" } });
    return await showEncryptionStatus(resolveDataDir(context), values.json === true);
  },
  retire: async (rest, context) => {
    const { values, positionals } = parseOptions(rest, {
      ...SITE_KEY_OPTIONS,
      window: { type: "string" },
      force: { type: "boolean" },
    }, true);
    if (positionals.length !== 1) {
      throw new UsageError("Expected one key id: mle-admin encryption retire KEYID");
    }
    return await retireEncryptionKey({
      dataDir: resolveDataDir(context),
      kid: positionals[0],
      windowDays: parseWindowDays(stringOption(values, "window")),
      force: values.force === true,
      site: siteKeySourceOf(values),
    });
  },
  export: async (rest, context) => {
    const { values } = parseOptions(rest, {
      ...TRANSFER_OPTIONS,
      to: { type: "string" },
      kid: { type: "string" },
    });
    const to = stringOption(values, "to");
    if (!to) throw new UsageError("Missing option --to: expected the folder to write to");
    return await exportEncryptionKey({
      dataDir: resolveDataDir(context),
      to,
      kid: stringOption(values, "kid"),
      password: transferSource(values),
    });
  },
  import: async (rest, context) => {
    const { values } = parseOptions(rest, {
      ...TRANSFER_OPTIONS,
      ...SITE_KEY_OPTIONS,
      from: { type: "string" },
      kid: { type: "string" },
      server: { type: "boolean" },
      deploy: { type: "boolean" },
      masthead: { type: "string" },
      force: { type: "boolean" },
    });
    const from = stringOption(values, "from");
    if (!from) throw new UsageError("Missing option --from: expected the folder to read from");
    if (context.dataDir === undefined) {
      throw new UsageError(
        "Missing option --data-dir: expected the data dir to install the key into",
        "give the decrypting relay's or the (DSA) server's data dir",
      );
    }
    const dataDir = context.dataDir;
    const site = siteKeySourceOf(values);
    return await importEncryptionKey({
      from,
      dataDir,
      kid: stringOption(values, "kid"),
      server: values.server === true,
      deploy: values.deploy === true
        ? (kid) =>
          deployEncryptionKey({
            dataDir,
            kid,
            site,
            siteKeyOption: "--site-key",
            force: values.force === true,
          })
        : undefined,
      mastheadFile: stringOption(values, "masthead"),
      password: transferSource(values),
    });
  },
  disable: async (rest, context) => {
    const { values } = parseOptions(rest, { ...SITE_KEY_OPTIONS, force: { type: "boolean" } });
    return await disableEncryption({
      dataDir: resolveDataDir(context),
      force: values.force === true,
      site: siteKeySourceOf(values),
    });
  },
});

function transferSource(values: Record<string, unknown>) {
  const file = values["transfer-password-file"];
  const argv = values["transfer-password"];
  return {
    file: typeof file === "string" ? file : undefined,
    argv: typeof argv === "string" ? argv : undefined,
  };
}
