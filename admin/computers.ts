/**
 * `mle-admin computers list`: the registered computers as the server knows them.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import type { ComputerRecord } from "../store/mod.ts";
import {
  type CommandContext,
  parseComputerId,
  parseOptions,
  resolveDataDir,
  stringOption,
  wantsHelp,
} from "./_args.ts";
import { orphanedComputers } from "./_encryption_levels.ts";
import { formatTable, formatTime } from "./_format.ts";
import { openExistingStore, openSiteKey, requireDataDirMasthead } from "./_site.ts";
import { publishRevocations } from "./_revocations.ts";

/** Usage of `mle-admin computers`. */
export const computersHelp = `Usage:
  mle-admin computers list [--json] [--all] [--data-dir DIR]
  mle-admin computers revoke ID [ID …] --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin computers confirm ID --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin computers duplicates [--json] [--data-dir DIR]
  mle-admin computers remove-duplicates [--dry-run] [--data-dir DIR]

list: the registered computers: id, hostname, when it registered and last reported, the key id
its last report was encrypted to ("clear" when it was sent in clear text), the encryption level
it asks for, whether it was revoked, replaced by a new id after a key rotation with hand-over, is a
duplicate of a newer registration of the same machine, or is flagged for the operator to confirm.
Removed duplicates are hidden unless --all. The table shortens key ids to 12 characters; --json
gives every field in full.

revoke: the server refuses the computers' reports from now on, and a new revocation list signed
with the site key reaches every relay (they refresh it every minute); a revoked id is never reused.

confirm: clears a computer's flag (set when it registered after a rotation with --compromised) and
publishes the signed revocation list, so relays learn of the computer it revoked.

duplicates: computers that registered again from the same machine with a new key, without a
hand-over (the seed's "duplicate computer entry").

remove-duplicates: removes every duplicate entry, keeping the newest registration of each machine;
their reports stay, their ids are never reused. Use --dry-run first.

Options:
  --json               JSON output (times in milliseconds since the epoch)
  --all                (list) also show removed computers
  --site-key FILE      the site key (license.pvk) [env: MLE_SITE_KEY]
  --password-file FILE read the site key's password from FILE, which only its owner may read
                       (chmod 600 FILE) [env: MLE_SITE_PASSWORD; else a prompt]
  --dry-run            (remove-duplicates) show what would be removed, change nothing
  --data-dir DIR       the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help           show this help

Examples:
  mle-admin computers list
  mle-admin computers revoke 1234 --site-key ~/site/license.pvk
  mle-admin computers confirm 1240 --site-key ~/site/license.pvk
  mle-admin computers duplicates
  mle-admin computers remove-duplicates --dry-run

Exit codes:
  0  done
  1  failed (no server data dir there, no such computer, wrong password, …)
  2  misuse: unknown command or option, bad id;
     a password file others can read
`;

/** Renders computers as the human table. */
export function formatComputers(computers: readonly ComputerRecord[]): string {
  if (computers.length === 0) return "No computers have registered yet\n";
  return formatTable(
    [
      "ID",
      "HOSTNAME",
      "REGISTERED",
      "LAST REPORT",
      "LAST KEY",
      "LEVEL",
      "REVOKED",
      "REPLACED BY",
      "DUPLICATE OF",
      "FLAG",
    ],
    computers.map((computer) => [
      String(computer.id),
      computer.hostname ?? "-",
      formatTime(computer.registeredAt),
      formatTime(computer.lastReportAt),
      computer.lastReportAt === null ? "-" : computer.lastKid?.slice(0, 12) ?? "clear",
      computer.encryptionLevel ?? "-",
      formatTime(computer.revokedAt),
      computer.replacedBy === null ? "-" : String(computer.replacedBy),
      computer.duplicateOf === null ? "-" : String(computer.duplicateOf),
      computer.removedAt !== null ? "removed" : computer.flagged === null ? "-" : "confirm",
    ]),
  );
}

/** Runs `mle-admin computers …`. */
export async function computersCommand(args: string[], context: CommandContext): Promise<number> {
  if (wantsHelp(args)) {
    console.log(computersHelp);
    return EXIT.ok;
  }
  const [sub, ...rest] = args;
  const commands = "list, revoke, confirm, duplicates or remove-duplicates";
  if (sub === undefined || sub.startsWith("-")) {
    throw new UsageError(`Missing computers command: expected ${commands}`);
  }
  switch (sub) {
    case "list":
      return await listComputers(rest, context);
    case "revoke":
    case "confirm":
      return await revokeOrConfirm(sub, rest, context);
    case "duplicates":
    case "remove-duplicates":
      return await duplicates(sub, rest, context);
    default:
      throw new UsageError(`Unknown computers command "${sub}": expected ${commands}`);
  }
}

async function listComputers(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseOptions(args, { json: { type: "boolean" }, all: { type: "boolean" } });
  const store = await openExistingStore(resolveDataDir(context));
  let computers: ComputerRecord[];
  let orphaned: Set<number>;
  try {
    computers = await store.listComputers();
    orphaned = new Set((await orphanedComputers(store)).map((entry) => entry.computer.id));
  } finally {
    store.close();
  }
  if (values.all !== true) computers = computers.filter((c) => c.removedAt === null);
  if (values.json === true) {
    const listed = computers.map((c) => ({ ...c, orphaned: orphaned.has(c.id) }));
    console.log(JSON.stringify(listed, null, 2));
  } else {
    console.log(formatComputers(computers).trimEnd());
    for (const id of orphaned) {
      console.log(
        `computer ${id}: orphaned: it requires encryption, which is disabled, and has not ` +
          "reported since (deploy a key again, or set its level to optional)",
      );
    }
    for (const computer of computers) {
      if (computer.flagged !== null && computer.removedAt === null) {
        console.log(`computer ${computer.id}: ${computer.flagged}`);
      }
    }
  }
  return EXIT.ok;
}

async function revokeOrConfirm(
  sub: "revoke" | "confirm",
  args: string[],
  context: CommandContext,
): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    "site-key": { type: "string" },
    "password-file": { type: "string" },
  }, true);
  if (positionals.length === 0) {
    throw new UsageError(`Missing computer id: mle-admin computers ${sub} ID`);
  }
  if (sub === "confirm" && positionals.length > 1) {
    throw new UsageError("Cannot confirm several computers at once: give one ID");
  }
  const ids = [...new Set(positionals.map(parseComputerId))];
  const dataDir = resolveDataDir(context);
  const store = await openExistingStore(dataDir);
  try {
    const masthead = await requireDataDirMasthead(dataDir, store);
    for (const id of ids) {
      if ((await store.getComputer(id)) === null) {
        throw new CliError(`Cannot ${sub} computer ${id}: no such computer`, {
          hint: "see the computers with: mle-admin computers list",
        });
      }
    }
    const site = await openSiteKey(
      {
        path: stringOption(values, "site-key"),
        passwordFile: stringOption(values, "password-file"),
        argvPassword: undefined,
      },
      "--site-key",
      masthead,
    );
    const now = Date.now();
    if (sub === "revoke") {
      for (const id of ids) {
        const changed = await store.revokeComputer(id, now);
        console.log(changed ? `Revoked computer ${id}` : `Computer ${id} was already revoked`);
      }
    } else {
      await store.flagComputer(ids[0], null);
      console.log(`Confirmed computer ${ids[0]}`);
    }
    const published = await publishRevocations(store, site.privateKey, now);
    console.log(
      `Published the signed revocation list (${published.revoked} revoked); relays pick it up within their refresh interval`,
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}

async function duplicates(
  sub: "duplicates" | "remove-duplicates",
  args: string[],
  context: CommandContext,
): Promise<number> {
  const { values } = parseOptions(
    args,
    sub === "duplicates" ? { json: { type: "boolean" } } : { "dry-run": { type: "boolean" } },
  );
  const store = await openExistingStore(resolveDataDir(context));
  try {
    const all = await store.listComputers();
    const found = all.filter((c) => c.duplicateOf !== null && c.removedAt === null);
    if (sub === "duplicates") {
      if (values.json === true) console.log(JSON.stringify(found, null, 2));
      else if (found.length === 0) console.log("No duplicate computers");
      else console.log(formatComputers(found).trimEnd());
      return EXIT.ok;
    }
    const dryRun = values["dry-run"] === true;
    if (found.length === 0) console.log("No duplicate computers to remove");
    const now = Date.now();
    for (const computer of found) {
      const line = `computer ${computer.id} (${
        computer.hostname ?? "?"
      }), duplicate of ${computer.duplicateOf}`;
      if (dryRun) console.log(`would remove ${line}`);
      else {
        await store.removeComputer(computer.id, now);
        console.log(`removed ${line}`);
      }
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}
