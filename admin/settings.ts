/**
 * `mle-admin settings set|unset|list`: signs client settings (the seed's "BigFix Client Setting:
 * Encrypted Reports" task) for all computers or listed ones, or their removal, and stores them for
 * the server to serve; lists the values in force (`settings_list.ts`).
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { printWarning, UsageError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import { ENCRYPTION_LEVEL_SETTING, parseEncryptionLevel } from "../protocol/encryption_level.ts";
import {
  ALLOW_LEGACY_RELAYS_SETTING,
  checkSetting,
  checkSettingName,
  mergeSettings,
  signSettings,
} from "../protocol/settings.ts";
import type { Store } from "../store/mod.ts";
import { settingsDocumentsOf } from "../store/settings_in_force.ts";
import {
  type AdminCommand,
  type CommandContext,
  parseComputerId,
  parseOptions,
  resolveDataDir,
  stringsOption,
  subcommandGroup,
  TOOL,
} from "./_args.ts";
import { openSiteForComputers, openSiteKey, SITE_KEY_OPTIONS, siteKeySourceOf } from "./_site.ts";
import { encryptionState } from "./_encryption_state.ts";
import { listSettings } from "./settings_list.ts";

/** Usage of `mle-admin settings`. */
export const settingsHelp = `Usage:
  mle-admin settings set NAME=VALUE [NAME=VALUE …] (--all | --computer ID [--computer ID …])
                         --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin settings unset NAME [NAME …] (--all | --computer ID [--computer ID …])
                           --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin settings list [--computer ID] [--json] [--data-dir DIR]

set: signs client settings with the site key and stores them; the server serves them to the
computers they target, which apply them at their next check. For each setting the latest document
wins, whether it targets all computers or some. Known settings are checked:
  ${ENCRYPTION_LEVEL_SETTING}   required, optional or none
  ${ALLOW_LEGACY_RELAYS_SETTING}
      1: optional clients holding the site's certificate may send clear text through relays
      that do not take encrypted reports; 0 (default): they keep it queued

unset: signs a document that removes the settings: like a value, the removal is the latest
document for them, so the targeted computers drop them at their next check and use their own
default (for ${ENCRYPTION_LEVEL_SETTING}: the level given at install, else optional). With --all
every computer drops them, including values set for it alone before; with --computer a computer
does not fall back to an older site-wide value (set it again for that computer to keep it).

list: the values in force, computed with the same per-setting merge the clients apply: the
site-wide ones, then each computer's own (or, with --computer, everything in force for that
computer), each with the document that set it (#serial), when it was signed and by whom (the
user name of the mle-admin session that signed it). A removal shows as "(removed)".

Options:
  --all                  target every computer, present and future
  --computer ID          target this computer id; repeat for several (list: one computer)
  --json                 (list) JSON: {siteWide: [...], computers: [{computerId, settings}]}, or
                         with --computer {computerId, settings}; each entry {name, value (null
                         when removed), target ("all" or a computer id), serial, issuedAt,
                         issuedBy}
  --site-key FILE        the site key (license.pvk) [env: MLE_SITE_KEY]
  --password-file FILE   read the site key's password from FILE's first line (only its
                         owner may read FILE: chmod 600 FILE)
                         [env: MLE_SITE_PASSWORD; else asked on the terminal]
  --data-dir DIR         the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help             show this help

Examples:
  mle-admin settings set ${ENCRYPTION_LEVEL_SETTING}=optional --all --site-key ~/site/license.pvk
  mle-admin settings set ${ENCRYPTION_LEVEL_SETTING}=required --computer 12 --computer 13 \\
    --site-key ~/site/license.pvk
  mle-admin settings unset ${ENCRYPTION_LEVEL_SETTING} --computer 12 --site-key ~/site/license.pvk
  mle-admin settings list
  mle-admin settings list --computer 12 --json

Exit codes:
  0  done
  1  failed (wrong password, unknown computer, …)
  2  misuse: unknown option, bad setting or value, neither or both of --all and --computer;
     a password file others can read
`;

/**
 * Parses `NAME=VALUE` arguments and checks each setting; the encryption level is normalized to
 * lowercase.
 *
 * @throws {UsageError} For a malformed pair, a bad value, or a name given twice.
 */
export function parseSettingPairs(pairs: readonly string[]): Record<string, string> {
  if (pairs.length === 0) {
    throw new UsageError(
      "Missing settings: expected NAME=VALUE",
      `for example ${ENCRYPTION_LEVEL_SETTING}=optional`,
    );
  }
  const settings: Record<string, string> = {};
  for (const pair of pairs) {
    const index = pair.indexOf("=");
    if (index <= 0) {
      throw new UsageError(`Cannot parse setting "${pair}": expected NAME=VALUE`);
    }
    const name = pair.slice(0, index);
    let value = pair.slice(index + 1);
    try {
      checkSetting(name, value);
      if (name === ENCRYPTION_LEVEL_SETTING) value = parseEncryptionLevel(value);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (Object.hasOwn(settings, name) && settings[name] !== value) {
      throw new UsageError(`Cannot set "${name}" twice to different values`);
    }
    settings[name] = value;
  }
  return settings;
}

/** Runs `mle-admin settings …`. */
export const settingsCommand: AdminCommand = subcommandGroup("settings", settingsHelp, {
  set: (rest, context) => setOrUnset("set", rest, context),
  unset: (rest, context) => setOrUnset("unset", rest, context),
  list: listSettings,
});

async function setOrUnset(
  sub: "set" | "unset",
  args: string[],
  context: CommandContext,
): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    all: { type: "boolean" },
    computer: { type: "string", multiple: true },
    ...SITE_KEY_OPTIONS,
  }, true);
  const settings = sub === "set" ? parseSettingPairs(positionals) : {};
  const unset = sub === "unset" ? parseSettingNames(positionals) : [];
  const all = values.all === true;
  const computerArgs = stringsOption(values, "computer");
  if (all === (computerArgs.length > 0)) {
    throw new UsageError(
      all
        ? "Cannot use --all with --computer: give one of them"
        : "Missing target: give --all or --computer ID",
    );
  }
  const ids = [...new Set(computerArgs.map(parseComputerId))];
  const { store, masthead } = await openSiteForComputers(resolveDataDir(context), ids, "target");
  try {
    const level = settings[ENCRYPTION_LEVEL_SETTING];
    if (level === "required") {
      const state = encryptionState(await store.listEncryptionKeys());
      if (state === "Disabled" || state === "Pending") {
        printWarning(
          TOOL,
          `encryption is ${state} on this server: computers at level required keep their ` +
            "reports queued and send nothing until a key is deployed",
        );
      }
    }
    const site = await openSiteKey(siteKeySourceOf(values), "--site-key", masthead);
    const now = Date.now();
    const issuedBy = operatorName();
    const document = await signSettings(site.privateKey, {
      computers: all ? "all" : ids,
      settings,
      ...(unset.length > 0 ? { unset } : {}),
      issuedAt: now,
      id: crypto.randomUUID(),
      ...(issuedBy !== undefined ? { issuedBy } : {}),
    });
    const serial = await store.addSettings(all ? null : ids, JSON.stringify(document), now);
    const target = all ? "all computers" : `computer${ids.length > 1 ? "s" : ""} ${ids.join(", ")}`;
    if (sub === "set") {
      console.log(
        `Stored signed settings #${serial} for ${target}:\n` +
          Object.entries(settings).map(([name, value]) => `  ${name}=${value}`).join("\n"),
      );
      return EXIT.ok;
    }
    console.log(
      `Stored signed removal #${serial} for ${target}: they drop ${unset.join(", ")} at their ` +
        "next check",
    );
    if (!all) await noteSiteWideValues(store, ids, unset);
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/**
 * Parses the names `settings unset` removes.
 *
 * @throws {UsageError} For none, or a malformed name.
 */
export function parseSettingNames(names: readonly string[]): string[] {
  if (names.length === 0) {
    throw new UsageError(
      "Missing settings: expected the NAME of each setting to remove",
      `for example mle-admin settings unset ${ENCRYPTION_LEVEL_SETTING} --computer 12 …`,
    );
  }
  for (const name of names) {
    try {
      checkSettingName(name);
    } catch (error) {
      throw new UsageError((error as Error).message.replace("Cannot set", "Cannot unset"));
    }
  }
  return [...new Set(names)];
}

/**
 * A computer that drops a setting of its own no longer gets an older site-wide value for it
 * (per setting, the newest document wins): say so, with the command that gives it that value.
 */
async function noteSiteWideValues(store: Store, ids: number[], names: string[]) {
  const siteWide = mergeSettings(
    {},
    settingsDocumentsOf((await store.listSettings()).filter((r) => r.computerId === null)),
  );
  for (const name of names) {
    const value = Object.hasOwn(siteWide, name) ? siteWide[name].value : null;
    if (value === null) continue;
    printWarning(
      TOOL,
      `the site-wide value ${name}=${value} is older, so it does not apply to ` +
        `computer${ids.length > 1 ? "s" : ""} ${ids.join(", ")} either; to give ` +
        `${ids.length > 1 ? "them" : "it"} that value: mle-admin settings set ${name}=${value} ` +
        ids.map((id) => `--computer ${id}`).join(" ") + " --site-key FILE",
    );
  }
}

/** The user name of this session, recorded in the documents it signs (for the record only). */
function operatorName(): string | undefined {
  const name = Deno.env.get("USER") || Deno.env.get("USERNAME") || Deno.env.get("LOGNAME");
  return name && /^[\w.@-]{1,64}$/.test(name) ? name : undefined;
}
