/**
 * The documented syntax, as seed 000 and the original's BESAdmin print it, so that administrators
 * can paste it as written:
 *
 * ```
 * mle-admin -reportencryption -generatekey -privateKeySize=max -deploynow=no -outkeypath=<path> -sitePvkLocation=<path+license.pvk> -sitePvkPassword=<password>
 * mle-admin -reportencryption -deploynow=yes -sitePvkLocation=<path+license.pvk> -sitePvkPassword=<password>
 * mle-admin -reportencryption -h
 * ```
 *
 * Options are `-name=value` with case-insensitive names. Parsing is pure; the work is done by the
 * same functions as `mle-admin encryption …`.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { UsageError } from "../cli/output.ts";
import { expandHome } from "../cli/home_path.ts";
import type { EncryptionKeySize } from "../envelope/encryption_key.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import { type CommandContext, resolveDataDir } from "./_args.ts";
import { deployEncryptionKey } from "./encryption_deploy.ts";
import { generateEncryptionKey, parseKeySize } from "./encryption_generate.ts";
import { showEncryptionStatus } from "./encryption_status.ts";
import type { SiteKeySource } from "./_site.ts";

/** Usage of `mle-admin -reportencryption`. */
export const reportEncryptionHelp = `Usage:
  mle-admin -reportencryption -generatekey [-privateKeySize=min|max|2048|3072|4096]
            [-deploynow=yes|no] [-outkeypath=<path>] -sitePvkLocation=<path+license.pvk>
            [-sitePvkPassword=<password> | -password-file=<file>] [-dataDir=<dir>]
  mle-admin -reportencryption -deploynow=yes [-force] -sitePvkLocation=<path+license.pvk>
            [-sitePvkPassword=<password> | -password-file=<file>] [-dataDir=<dir>]
  mle-admin -reportencryption -status [-dataDir=<dir>]
  mle-admin -reportencryption -h

Manages Message Level Encryption the way the original's BESAdmin documents it. The same work as
"mle-admin encryption generate|deploy|status" (see mle-admin encryption --help).

Options (names are case-insensitive):
  -generatekey                 generate a new encryption key; it is written to
                               "<data dir>/Encryption Keys/<key id>.pvk"
  -privateKeySize=SIZE         min (2048 bits), max (4096 bits), 2048, 3072 or 4096 [default: max]
  -deploynow=yes|no            with -generatekey: yes deploys the new key at once, no leaves it
                               Pending so that it can first be copied to decrypting relays and DSA
                               servers [default: no]; alone, -deploynow=yes deploys the pending key
  -outkeypath=<path>           also write a copy of the private key file <key id>.pvk in this
                               folder (mode 0600), for a USB transfer; the copy is NOT encrypted
                               (it warns): prefer "mle-admin encryption export", sealed under a
                               transfer password
  -sitePvkLocation=<file>      the site key, license.pvk [env: MLE_SITE_KEY]
  -sitePvkPassword=<password>  its password; visible in the process list, so it warns: prefer
                               -password-file, the MLE_SITE_PASSWORD variable, or the prompt
  -password-file=<file>        read the password from the file's first line (only its
                               owner may read the file: chmod 600 <file>)
  -dataDir=<dir>               the server data dir (also --data-dir DIR)
  -force                       deploy although a running server sharing the database, or a
                               running decrypting relay, lacks the key's private key file
                               (refused by default: ERR_KEY_NOT_ON_SERVER, ERR_KEY_NOT_ON_RELAY)
                               [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -status                      show the state and the keys
  -h                           show this help

Examples:
  mle-admin -reportencryption -generatekey -privateKeySize=max -deploynow=no -outkeypath=/media/usb -sitePvkLocation=/root/site/license.pvk
  mle-admin -reportencryption -deploynow=yes -sitePvkLocation=/root/site/license.pvk -password-file=/root/site/password
  mle-admin -reportencryption -status

Exit codes:
  0  done
  1  failed (wrong password, a key already pending, nothing to deploy, key file missing, …)
  2  misuse: unknown option, missing option, bad value;
     a password file others can read
`;

/** What a legacy command line asks for. */
export type ReportEncryptionRequest =
  | { action: "help" }
  | { action: "status" }
  | {
    action: "generate";
    bits: EncryptionKeySize;
    deployNow: boolean;
    outKeyPath: string | undefined;
    site: SiteKeySource;
    force: boolean;
  }
  | { action: "deploy"; site: SiteKeySource; force: boolean };

const HELP_FLAGS = new Set(["-h", "--h", "-help", "--help", "-?", "/?", "/h"]);
/** Legacy options that take a `=value`. */
const VALUE_OPTIONS = new Set([
  "privatekeysize",
  "deploynow",
  "outkeypath",
  "sitepvklocation",
  "sitepvkpassword",
  "password-file",
  "passwordfile",
]);
/** Legacy options that name a file or folder: a leading `~` is expanded. */
const PATH_VALUE_OPTIONS = new Set(["outkeypath", "sitepvklocation", "password-file"]);
/** Legacy options without a value. */
const FLAG_OPTIONS = new Set(["reportencryption", "generatekey", "status", "force"]);

/**
 * Parses a legacy `-reportencryption` command line (the data dir already taken out).
 *
 * @throws {UsageError} For an unknown option, a missing or repeated value, or a combination that
 * does nothing. Messages name options, never their values (a value may be the password).
 */
export function parseReportEncryptionArgs(args: readonly string[]): ReportEncryptionRequest {
  if (args.some((arg) => HELP_FLAGS.has(arg.toLowerCase()))) return { action: "help" };
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    let arg = args[i];
    // The seed's text breaks "- sitePvkPassword=<password>" across a line; accept that split.
    if (arg === "-" && i + 1 < args.length && /^[a-z-]+=/i.test(args[i + 1])) arg = `-${args[++i]}`;
    // `--password-file FILE`, the modern spelling, is accepted here too.
    if (arg === "--password-file") {
      const next = args[++i];
      if (next === undefined || next === "") {
        throw new UsageError("Missing value of option --password-file: expected a file");
      }
      arg = `--password-file=${next}`;
    }
    const match = /^--?([a-z][a-z-]*)(=(.*))?$/is.exec(arg);
    if (!match) {
      throw new UsageError(
        `Unexpected argument #${i + 1}: options are written -name=value`,
        "run mle-admin -reportencryption -h to see the usage",
      );
    }
    const name = match[1].toLowerCase();
    const hasValue = match[2] !== undefined;
    const value = match[3] ?? "";
    const shown = `-${match[1]}`;
    if (FLAG_OPTIONS.has(name)) {
      if (hasValue) throw new UsageError(`Option "${shown}" takes no value`);
      flags.add(name);
    } else if (VALUE_OPTIONS.has(name)) {
      if (!hasValue || value === "") {
        throw new UsageError(
          `Missing value of option "${shown}": write ${shown}=VALUE`,
          "run mle-admin -reportencryption -h to see the usage",
        );
      }
      const key = name === "passwordfile" ? "password-file" : name;
      const given = PATH_VALUE_OPTIONS.has(key) ? expandHome(value) : value;
      if (values.has(key) && values.get(key) !== given) {
        throw new UsageError(`Option "${shown}" is given twice with different values`);
      }
      values.set(key, given);
    } else {
      throw new UsageError(
        `Unknown option "${shown}"`,
        "run mle-admin -reportencryption -h to see the usage",
      );
    }
  }

  let deployNow: boolean | undefined;
  const deployText = values.get("deploynow");
  if (deployText !== undefined) {
    const normalized = deployText.toLowerCase();
    if (["yes", "y", "true", "1"].includes(normalized)) deployNow = true;
    else if (["no", "n", "false", "0"].includes(normalized)) deployNow = false;
    else {
      throw new UsageError(`Cannot use -deploynow="${deployText}": expected yes or no`);
    }
  }
  const site: SiteKeySource = {
    path: values.get("sitepvklocation"),
    passwordFile: values.get("password-file"),
    argvPassword: values.get("sitepvkpassword"),
  };
  const generate = flags.has("generatekey");
  if (!generate) {
    for (const name of ["privatekeysize", "outkeypath"]) {
      if (values.has(name)) throw new UsageError(`Option "-${name}" goes with -generatekey`);
    }
  }
  if (flags.has("status")) {
    if (generate || deployNow !== undefined) {
      throw new UsageError("Option -status goes alone: it changes nothing");
    }
    return { action: "status" };
  }
  if (generate) {
    return {
      action: "generate",
      bits: parseKeySize(values.get("privatekeysize") ?? "max"),
      deployNow: deployNow ?? false,
      outKeyPath: values.get("outkeypath"),
      site,
      force: flags.has("force"),
    };
  }
  if (deployNow === true) return { action: "deploy", site, force: flags.has("force") };
  throw new UsageError(
    deployNow === false
      ? "Nothing to do: -deploynow=no without -generatekey"
      : "Missing action: expected -generatekey, -deploynow=yes or -status",
    "run mle-admin -reportencryption -h to see the usage",
  );
}

/** Runs a legacy `-reportencryption` command line. */
export async function reportEncryptionCommand(
  args: string[],
  context: CommandContext,
): Promise<number> {
  const request = parseReportEncryptionArgs(args);
  switch (request.action) {
    case "help":
      console.log(reportEncryptionHelp);
      return EXIT.ok;
    case "status":
      return await showEncryptionStatus(resolveDataDir(context), false);
    case "generate":
      return await generateEncryptionKey({
        dataDir: resolveDataDir(context),
        bits: request.bits,
        deployNow: request.deployNow,
        outKeyPath: request.outKeyPath,
        site: request.site,
        siteKeyOption: "-sitePvkLocation",
        force: request.force,
      });
    case "deploy":
      return await deployEncryptionKey({
        dataDir: resolveDataDir(context),
        kid: undefined,
        site: request.site,
        siteKeyOption: "-sitePvkLocation",
        force: request.force,
      });
  }
}
