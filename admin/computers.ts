/**
 * `mle-admin computers`: the registered computers as the server knows them (list), and the
 * operator's decisions on them: revoke, confirm a flagged one, find and remove duplicates.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { UsageError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import type { ComputerRecord, Store } from "../store/mod.ts";
import {
  type AdminCommand,
  type CommandContext,
  parseComputerId,
  parseOptions,
  parseWholeDays,
  readListFormat,
  resolveDataDir,
  stringOption,
  stringsOption,
  subcommandGroup,
} from "./_args.ts";
import {
  DEFAULT_MIN_IDLE_DAYS,
  type DuplicateGroup,
  duplicateGroups,
} from "./_duplicate_groups.ts";
import { describeReplacementClaim, replacementClaim } from "./_replacement_claims.ts";
import { orphanedComputers } from "./_encryption_levels.ts";
import { csvField, formatTable, formatTime } from "./_format.ts";
import {
  filterComputers,
  isEmptyFilter,
  parseComputerFilter,
  statesOf,
} from "./_computer_filter.ts";
import {
  decided,
  openExistingStore,
  openSiteForComputers,
  openSiteKey,
  SITE_KEY_OPTIONS,
  siteKeySourceOf,
} from "./_site.ts";
import type { SiteKey } from "../keystore/site_key.ts";
import { signAndRecordComputerDecision } from "../store/computer_decisions.ts";
import { publishRevocations } from "./_revocations.ts";
import {
  describeRotation,
  rotateKeysCommand,
  rotationsCommand,
  type RotationStatus,
  rotationStatuses,
} from "./computer_rotations.ts";

/** Usage of `mle-admin computers`. */
export const computersHelp = `Usage:
  mle-admin computers list [--where NAME=VALUE …] [--level LEVEL] [--key KID] [--state STATE …]
                          [--all] [--format text|json|csv | --json] [--data-dir DIR]
  mle-admin computers revoke ID [ID …] --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin computers confirm ID --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin computers duplicates [--json] [--min-idle DAYS] [--data-dir DIR]
  mle-admin computers remove-duplicates [--dry-run] [--min-idle DAYS] [--force] [--data-dir DIR]
  mle-admin computers rotate-keys (ID [ID …] | --all | --where NAME=VALUE …) [--compromised]
                                  --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin computers rotations [--json] [--data-dir DIR]

list: the registered computers: id, hostname, when it registered and last reported, the key id
its last report was encrypted to ("clear" when it was sent in clear text), the encryption level
it asks for, whether it was revoked, replaced by a new id after a key rotation with hand-over, is a
duplicate of a newer registration of the same machine, or is flagged for the operator to confirm.
A computer that claims to replace another (after "mle-client rotate-keys --compromised") is
flagged, with the evidence: whether the old computer's key signed for the new key, whether both
gave the same host identity, and whether the old one reported after the claim. Removed duplicates are hidden unless --all. The table shortens key ids
to 12 characters; --json gives every field in full ("claim": the evidence), --format csv one
line per computer (id, hostname, registered, last report, last key, level, states, replaced by,
duplicate of, rotation). Filters, all of which must match: --where NAME=VALUE (repeatable; a
property or custom property of the last report, compared exactly), --level required|optional|none
(the level in force: deployed setting, else last reported), --key KID (the key the last report was
encrypted to: its id or first 4+ hex digits, or "clear"), --state (repeatable or comma-separated:
active, revoked, replaced, duplicate, flagged, removed, orphaned; any of them matches; a state
other than active shows removed entries too).

revoke: the server refuses the computers' reports from now on, and a new revocation list signed
with the site key reaches every relay (they refresh it every minute); a revoked id is never reused.

confirm: accepts a flagged computer, through a decision signed with the site key
(mle-computer-decision, recorded once: the document the web console signs in the browser). When it claims to replace another computer (a rotation with
--compromised), that old computer is revoked now; only a hand-over signed by the old key, or this
command, or revoke ever ends an old id. Publishes the signed revocation list, so relays learn of it.

duplicates: groups of computers that registered from the same host identity without a
hand-over (the seed's "duplicate computer entry"), each member with what remove-duplicates would
do and why; then the computers that claim to replace another, with the evidence. The host
identity is not secret, so a duplicate may be an impostor: look before removing.

remove-duplicates: in each group keeps the entry that reported most recently, and removes the
others, printing each; never removes an entry that reported (or, never having reported,
registered) within --min-idle days unless --force. Their reports stay; their ids are never reused.
Use --dry-run first.

rotate-keys: key rotation from the centre. Signs a rotation directive with the site key for the
computers given by id, for every active computer (--all), or for those whose last report has
every property NAME=VALUE (--where, repeatable; properties and custom properties, compared
exactly). Each computer carries it out at its next report, exactly as "mle-client rotate-keys"
does (queued reports first, a hand-over signed by the old key, KeyStorage deleted, the new key
registered), once: not again after a restart or a resend of the directive, never by a computer
it does not name. With --compromised no hand-over is trusted: the new entries claim the old ids
and wait for "computers confirm NEW", which revokes the old id. Asking again for a computer
replaces its earlier request. list shows the ROTATION column ("requested", "done → NEW",
"done → NEW (confirm)"; JSON: "rotation").

rotations: the requested rotations still outstanding: not carried out yet, or done with
--compromised and waiting for confirm.

Options:
  --json               JSON output (times in milliseconds since the epoch)
  --all                (list) also show removed computers
  --site-key FILE      the site key (license.pvk) [env: MLE_SITE_KEY]
  --password-file FILE read the site key's password from FILE, which only its owner may read
                       (chmod 600 FILE) [env: MLE_SITE_PASSWORD; else a prompt]
  --dry-run            (remove-duplicates) show what would be removed, change nothing
  --min-idle DAYS      (duplicates, remove-duplicates) keep entries seen within DAYS days
                       [default: ${DEFAULT_MIN_IDLE_DAYS}]
  --force              (remove-duplicates) also remove entries seen within --min-idle
  --all                (rotate-keys) every active computer (not revoked, replaced or removed;
                       relays allowed to send bundles are left out)
  --where NAME=VALUE   (rotate-keys) active computers whose last report has this property
  --compromised        (rotate-keys) trust no hand-over; new entries wait for confirm
  --data-dir DIR       the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help           show this help

Examples:
  mle-admin computers list
  mle-admin computers revoke 1234 --site-key ~/site/license.pvk
  mle-admin computers confirm 1240 --site-key ~/site/license.pvk
  mle-admin computers duplicates
  mle-admin computers remove-duplicates --dry-run
  mle-admin computers remove-duplicates --min-idle 30
  mle-admin computers rotate-keys 1234 1235 --site-key ~/site/license.pvk
  mle-admin computers rotate-keys --where os_name=Linux --compromised --site-key ~/site/license.pvk
  mle-admin computers rotations

Exit codes:
  0  done
  1  failed (no server data dir there, no such computer, wrong password, …)
  2  misuse: unknown command or option, bad id;
     a password file others can read
`;

/** Renders computers as the human table. */
export function formatComputers(
  computers: readonly ComputerRecord[],
  rotations: ReadonlyMap<number, RotationStatus> = new Map(),
): string {
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
      "ROTATION",
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
      describeRotation(rotations.get(computer.id)),
    ]),
  );
}

/** The computers as CSV (RFC 4180, formula characters defused), with a header line. */
export function formatComputersCsv(
  computers: readonly ComputerRecord[],
  orphaned: ReadonlySet<number>,
  rotations: ReadonlyMap<number, RotationStatus> = new Map(),
): string {
  const iso = (ms: number | null) => ms === null ? "" : new Date(ms).toISOString();
  const lines = [
    "id,hostname,registered_at,last_report_at,last_kid,level,states,replaced_by,duplicate_of,rotation",
    ...computers.map((c) =>
      [
        String(c.id),
        c.hostname ?? "",
        iso(c.registeredAt),
        iso(c.lastReportAt),
        c.lastReportAt === null ? "" : c.lastKid ?? "clear",
        c.encryptionLevel ?? "",
        statesOf(c, orphaned).join(" "),
        c.replacedBy === null ? "" : String(c.replacedBy),
        c.duplicateOf === null ? "" : String(c.duplicateOf),
        rotations.has(c.id) ? describeRotation(rotations.get(c.id)) : "",
      ].map(csvField).join(",")
    ),
  ];
  return lines.join("\n") + "\n";
}

/** Runs `mle-admin computers …`. */
export const computersCommand: AdminCommand = subcommandGroup("computers", computersHelp, {
  list: listComputers,
  revoke: (rest, context) => revokeOrConfirm("revoke", rest, context),
  confirm: (rest, context) => revokeOrConfirm("confirm", rest, context),
  duplicates: (rest, context) => duplicates("duplicates", rest, context),
  "remove-duplicates": (rest, context) => duplicates("remove-duplicates", rest, context),
  "rotate-keys": rotateKeysCommand,
  rotations: rotationsCommand,
});

async function listComputers(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseOptions(args, {
    json: { type: "boolean" },
    all: { type: "boolean" },
    format: { type: "string" },
    where: { type: "string", multiple: true },
    level: { type: "string" },
    key: { type: "string" },
    state: { type: "string", multiple: true },
  });
  const { format } = readListFormat(values);
  const filter = parseComputerFilter({
    where: stringsOption(values, "where"),
    level: stringOption(values, "level"),
    key: stringOption(values, "key"),
    states: stringsOption(values, "state"),
  });
  const store = await openExistingStore(resolveDataDir(context));
  let all: ComputerRecord[];
  let computers: ComputerRecord[];
  let orphaned: Set<number>;
  let rotations: Map<number, RotationStatus>;
  try {
    all = await store.listComputers();
    orphaned = new Set((await orphanedComputers(store)).map((entry) => entry.computer.id));
    rotations = await rotationStatuses(store, all);
    // Removed entries stay hidden unless asked for: --all, or a state other than active.
    const showRemoved = values.all === true ||
      [...filter.states].some((state) => state !== "active");
    computers = showRemoved ? all : all.filter((c) => c.removedAt === null);
    if (!isEmptyFilter(filter)) {
      computers = await filterComputers(store, computers, filter, orphaned);
    }
  } finally {
    store.close();
  }
  const byId = new Map(all.map((c) => [c.id, c] as const));
  if (format === "csv") {
    console.log(formatComputersCsv(computers, orphaned, rotations).trimEnd());
  } else if (format === "json") {
    const listed = computers.map((c) => ({
      ...c,
      orphaned: orphaned.has(c.id),
      claim: replacementClaim(c, byId),
      rotation: rotations.get(c.id) ?? null,
    }));
    console.log(JSON.stringify(listed, null, 2));
  } else {
    console.log(formatComputers(computers, rotations).trimEnd());
    for (const id of orphaned) {
      console.log(
        `computer ${id}: orphaned: it requires encryption, which is disabled, and has not ` +
          "reported since (deploy a key again, or set its level to optional)",
      );
    }
    for (const computer of computers) {
      if (computer.flagged !== null && computer.removedAt === null) {
        console.log(`computer ${computer.id}: ${computer.flagged}`);
        const claim = replacementClaim(computer, byId);
        if (claim) console.log(describeReplacementClaim(computer, claim));
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
  const { values, positionals } = parseOptions(args, SITE_KEY_OPTIONS, true);
  if (positionals.length === 0) {
    throw new UsageError(`Missing computer id: mle-admin computers ${sub} ID`);
  }
  if (sub === "confirm" && positionals.length > 1) {
    throw new UsageError("Cannot confirm several computers at once: give one ID");
  }
  const ids = [...new Set(positionals.map(parseComputerId))];
  const { store, masthead } = await openSiteForComputers(resolveDataDir(context), ids, sub);
  try {
    const site = await openSiteKey(siteKeySourceOf(values), "--site-key", masthead);
    const now = Date.now();
    if (sub === "revoke") {
      for (const id of ids) {
        const changed = await store.revokeComputer(id, now);
        console.log(changed ? `Revoked computer ${id}` : `Computer ${id} was already revoked`);
      }
    } else {
      await confirmComputer(store, site, ids[0], now);
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

/**
 * Accepts a flagged computer (revoking the one it claims to replace, if any) through a signed
 * decision, the document the console signs in the browser (`store/computer_decisions.ts`).
 */
async function confirmComputer(
  store: Store,
  site: SiteKey,
  id: number,
  now: number,
): Promise<void> {
  const recorded = await decided(
    () => signAndRecordComputerDecision(store, site, "confirm", id, now),
  );
  const old = recorded.computer.claimsToReplace;
  if (old !== null) {
    console.log(
      recorded.revokedReplaced === old
        ? `Revoked computer ${old}, which computer ${id} replaces`
        : `Computer ${old}, which computer ${id} replaces, was already revoked`,
    );
  }
  console.log(`Confirmed computer ${id} (signed decision #${recorded.decision.serial})`);
}

async function duplicates(
  sub: "duplicates" | "remove-duplicates",
  args: string[],
  context: CommandContext,
): Promise<number> {
  const { values } = parseOptions(
    args,
    sub === "duplicates" ? { json: { type: "boolean" }, "min-idle": { type: "string" } } : {
      "dry-run": { type: "boolean" },
      "min-idle": { type: "string" },
      force: { type: "boolean" },
    },
  );
  const policy = {
    now: Date.now(),
    minIdleDays: parseWholeDays(
      "min-idle",
      stringOption(values, "min-idle"),
      DEFAULT_MIN_IDLE_DAYS,
    ),
    force: values.force === true,
  };
  const store = await openExistingStore(resolveDataDir(context));
  try {
    const all = await store.listComputers();
    const groups = duplicateGroups(all, policy);
    if (sub === "duplicates") {
      const byId = new Map(all.map((c) => [c.id, c] as const));
      const claims = all.filter((c) => c.removedAt === null && c.flagged !== null)
        .flatMap((c) => {
          const claim = replacementClaim(c, byId);
          return claim ? [{ computer: c, claim }] : [];
        });
      if (values.json === true) {
        console.log(JSON.stringify(
          {
            groups: groups.map((group) => ({
              keep: group.keep,
              members: group.members.map((m) => ({
                ...m.computer,
                action: m.action,
                reason: m.reason,
              })),
            })),
            claims: claims.map(({ computer, claim }) => ({ computerId: computer.id, ...claim })),
          },
          null,
          2,
        ));
        return EXIT.ok;
      }
      if (groups.length === 0) console.log("No duplicate computers");
      for (const group of groups) console.log(formatDuplicateGroup(group));
      for (const { computer, claim } of claims) {
        console.log(describeReplacementClaim(computer, claim));
      }
      return EXIT.ok;
    }
    const dryRun = values["dry-run"] === true;
    if (groups.length === 0) console.log("No duplicate computers to remove");
    for (const group of groups) {
      for (const { computer, action, reason } of group.members) {
        const line = `computer ${computer.id} (${computer.hostname ?? "?"}): ${reason}`;
        if (action === "keep") console.log(`${dryRun ? "would keep" : "kept"} ${line}`);
        else if (dryRun) console.log(`would remove ${line}`);
        else {
          await store.removeComputer(computer.id, policy.now);
          console.log(`removed ${line}`);
        }
      }
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/** A duplicate group as a table: what remove-duplicates does with each member, and why. */
function formatDuplicateGroup(group: DuplicateGroup): string {
  return formatTable(
    ["ACTION", "ID", "HOSTNAME", "REGISTERED", "LAST REPORT", "DUPLICATE OF", "WHY"],
    group.members.map(({ computer, action, reason }) => [
      action,
      String(computer.id),
      computer.hostname ?? "-",
      formatTime(computer.registeredAt),
      formatTime(computer.lastReportAt),
      computer.duplicateOf === null ? "-" : String(computer.duplicateOf),
      reason,
    ]),
  ).trimEnd();
}
