/**
 * Key rotation from the centre: `mle-admin computers rotate-keys` signs a rotation directive
 * (`protocol/rotation_directive.ts`) for named computers, and `computers rotations` lists the
 * requests still outstanding. Each named client carries its request out at its next cycle, as
 * `mle-client rotate-keys` does; the new registration's hand-over (or, with --compromised, its
 * claim) is what shows it done.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, UsageError } from "../cli/output.ts";
import {
  MAX_ROTATION_REQUESTS,
  readRotationDirective,
  type RotationDirective,
  type RotationRequest,
  signRotationDirective,
} from "../protocol/rotation_directive.ts";
import type { ComputerRecord, Store } from "../store/mod.ts";
import {
  type CommandContext,
  parseComputerId,
  parseOptions,
  resolveDataDir,
  stringsOption,
} from "./_args.ts";
import { formatTable, formatTime } from "./_format.ts";
import { recordSupersedingDocument } from "./_numbered_documents.ts";
import { readUnverifiedBody } from "../envelope/signed_document.ts";
import {
  openExistingStore,
  openSiteKey,
  requireDataDirMasthead,
  SITE_KEY_OPTIONS,
  siteKeySourceOf,
} from "./_site.ts";

/** Requests done (or ended by a revocation) longer ago than this leave the next directive. */
export const KEEP_DONE_REQUESTS_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where a requested rotation stands, as the server's records show it. */
export interface RotationStatus {
  computerId: number;
  /** "requested": not carried out yet; "done": a new registration replaces (or claims) it;
   * "ended": revoked or removed before it was done. */
  state: "requested" | "done" | "ended";
  requestedIn: number;
  requestedAt: number;
  compromised: boolean;
  /** The computer that replaces it (hand-over) or claims to (compromised), once done. */
  newComputerId: number | null;
  /** Done with --compromised: the new entry waits for `mle-admin computers confirm NEW`. */
  awaitingConfirm: boolean;
  /** When it was done or ended, or null. */
  endedAt: number | null;
}

/** The computers by id, and per computer the latest one that claims to replace it. */
export interface ComputerIndex {
  byId: ReadonlyMap<number, ComputerRecord>;
  claimantOf: ReadonlyMap<number, ComputerRecord>;
}

/** Indexes computers for {@linkcode rotationStatus}. */
export function indexComputers(computers: readonly ComputerRecord[]): ComputerIndex {
  const claimantOf = new Map<number, ComputerRecord>();
  for (const computer of computers) {
    if (computer.claimsToReplace !== null && computer.removedAt === null) {
      claimantOf.set(computer.claimsToReplace, computer); // listed by id: the latest wins
    }
  }
  return { byId: new Map(computers.map((c) => [c.id, c] as const)), claimantOf };
}

/** Where one request stands, given every computer. */
export function rotationStatus(request: RotationRequest, index: ComputerIndex): RotationStatus {
  const computer = index.byId.get(request.computerId);
  const base = { ...request, newComputerId: null, awaitingConfirm: false, endedAt: null };
  if (!computer) return { ...base, state: "ended" };
  const claimant = index.claimantOf.get(computer.id);
  const successor = computer.replacedBy !== null
    ? index.byId.get(computer.replacedBy) ?? null
    : claimant !== undefined && claimant.registeredAt >= request.requestedAt
    ? claimant
    : null;
  if (successor !== null) {
    return {
      ...base,
      state: "done",
      newComputerId: successor.id,
      awaitingConfirm: successor.claimsToReplace === computer.id && successor.flagged !== null,
      endedAt: successor.registeredAt,
    };
  }
  const ended = computer.revokedAt ?? computer.removedAt;
  if (ended !== null) return { ...base, state: "ended", endedAt: ended };
  return { ...base, state: "requested" };
}

/** The current directive in the store, or null when none was ever signed. */
export async function currentRotationDirective(store: Store): Promise<RotationDirective | null> {
  const text = await store.getDocument("rotation-directive");
  return text === null ? null : readStoredDirective(text);
}

/** Per computer named in the current directive, where its rotation stands. */
export async function rotationStatuses(
  store: Store,
  computers: readonly ComputerRecord[],
): Promise<Map<number, RotationStatus>> {
  const directive = await currentRotationDirective(store);
  const index = indexComputers(computers);
  return new Map(
    (directive?.requests ?? []).map((r) => [r.computerId, rotationStatus(r, index)] as const),
  );
}

/** The ROTATION column of `computers list`: "requested", "done → 14", "done → 14 (confirm)". */
export function describeRotation(status: RotationStatus | undefined): string {
  if (!status) return "-";
  if (status.state === "requested") return "requested";
  if (status.state === "ended") return "ended";
  return `done → ${status.newComputerId}${status.awaitingConfirm ? " (confirm)" : ""}`;
}

/**
 * The requests of the next directive: the previous ones still worth serving (outstanding, or
 * done within {@linkcode KEEP_DONE_REQUESTS_DAYS} so that `list` still shows them done), and a
 * new request, asked in `serial`, for each target (replacing an earlier one: asking again makes a
 * computer that already carried out the old request do it again).
 *
 * @throws {CliError} When the directive would hold more than `MAX_ROTATION_REQUESTS`.
 */
export function nextRequests(
  previous: readonly RotationRequest[],
  targets: readonly number[],
  ask: { serial: number; now: number; compromised: boolean },
  computers: ComputerIndex,
): RotationRequest[] {
  const requests = new Map<number, RotationRequest>();
  for (const request of previous) {
    const status = rotationStatus(request, computers);
    if (status.endedAt !== null && ask.now - status.endedAt > KEEP_DONE_REQUESTS_DAYS * DAY_MS) {
      continue;
    }
    requests.set(request.computerId, request);
  }
  for (const computerId of targets) {
    requests.set(computerId, {
      computerId,
      requestedIn: ask.serial,
      requestedAt: ask.now,
      compromised: ask.compromised,
    });
  }
  if (requests.size > MAX_ROTATION_REQUESTS) {
    throw new CliError(
      `Cannot sign the rotation directive: it would name ${requests.size} computers, over ${MAX_ROTATION_REQUESTS}`,
      {
        hint: "rotate in smaller groups once earlier ones are done (mle-admin computers rotations)",
      },
    );
  }
  return [...requests.values()].sort((a, b) => a.computerId - b.computerId);
}

/**
 * Parses `--where NAME=VALUE`.
 *
 * @throws {UsageError} For anything but NAME=VALUE.
 */
export function parseWhere(pairs: readonly string[]): Array<[string, string]> {
  return pairs.map((pair) => {
    const index = pair.indexOf("=");
    if (index <= 0) {
      throw new UsageError(
        `Cannot use --where "${pair}": expected NAME=VALUE`,
        "for example --where os_name=Linux (a property of the computer's last report)",
      );
    }
    return [pair.slice(0, index), pair.slice(index + 1)];
  });
}

/**
 * True when the report body's properties or custom properties hold every NAME=VALUE (values
 * compared as text, exactly).
 */
export function reportMatches(body: string, where: ReadonlyArray<[string, string]>): boolean {
  let report: { properties?: unknown; custom?: unknown };
  try {
    report = JSON.parse(body);
  } catch {
    return false;
  }
  const sections = [report?.properties, report?.custom].filter((s): s is Record<string, unknown> =>
    typeof s === "object" && s !== null
  );
  return where.every(([name, value]) =>
    sections.some((section) =>
      Object.hasOwn(section, name) && section[name] !== null &&
      (typeof section[name] === "object"
          ? JSON.stringify(section[name])
          : String(section[name])) === value
    )
  );
}

function isActive(computer: ComputerRecord): boolean {
  return computer.revokedAt === null && computer.replacedBy === null && computer.removedAt === null;
}

/** Runs `mle-admin computers rotate-keys …`. */
export async function rotateKeysCommand(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    all: { type: "boolean" },
    where: { type: "string", multiple: true },
    compromised: { type: "boolean" },
    ...SITE_KEY_OPTIONS,
  }, true);
  const where = parseWhere(stringsOption(values, "where"));
  const all = values.all === true;
  const selectors = [positionals.length > 0, all, where.length > 0].filter(Boolean).length;
  if (selectors !== 1) {
    throw new UsageError(
      selectors === 0
        ? "Missing computers: give IDs, --all or --where NAME=VALUE"
        : "Cannot combine IDs, --all and --where: give one of them",
    );
  }
  const ids = [...new Set(positionals.map(parseComputerId))];
  const compromised = values.compromised === true;
  const dataDir = resolveDataDir(context);
  const store = await openExistingStore(dataDir);
  try {
    const masthead = await requireDataDirMasthead(dataDir, store);
    const computers = await store.listComputers();
    const index = indexComputers(computers);
    const byId = index.byId;
    let targets: number[];
    if (ids.length > 0) {
      for (const id of ids) {
        const computer = byId.get(id);
        if (!computer) {
          throw new CliError(`Cannot rotate the keys of computer ${id}: no such computer`, {
            hint: "see the computers with: mle-admin computers list",
          });
        }
        if (!isActive(computer)) {
          throw new CliError(
            `Cannot rotate the keys of computer ${id}: it is ${
              computer.revokedAt !== null
                ? "revoked"
                : computer.replacedBy !== null
                ? `replaced by computer ${computer.replacedBy}`
                : "removed"
            }, so no agent uses its key`,
            { hint: "nothing was signed; give the ids of active computers" },
          );
        }
      }
      targets = ids;
    } else {
      targets = [];
      // Relays allowed to send bundles register like clients but never read a directive.
      const relays = new Set((await store.listBundleSenders()).map((r) => r.computerId));
      for (const computer of computers.filter((c) => isActive(c) && !relays.has(c.id))) {
        if (where.length === 0) {
          targets.push(computer.id);
          continue;
        }
        const last = await store.lastReport(computer.id);
        if (last !== null && reportMatches(last.body, where)) targets.push(computer.id);
      }
      if (targets.length === 0) {
        throw new CliError(
          all
            ? "Cannot rotate keys: no active computer is registered"
            : `Cannot rotate keys: no active computer's last report has ${
              where.map(([n, v]) => `${n}=${v}`).join(" and ")
            }`,
          { hint: "nothing was signed; see the computers with: mle-admin computers list" },
        );
      }
    }
    const site = await openSiteKey(siteKeySourceOf(values), "--site-key", masthead);
    const now = Date.now();
    const recorded = await recordSupersedingDocument(
      "rotation directive",
      now,
      (version, previousText) =>
        signRotationDirective(site.privateKey, {
          ...version,
          requests: nextRequests(
            previousText === null ? [] : readStoredDirective(previousText).requests,
            targets,
            { serial: version.serial, now, compromised },
            index,
          ),
        }),
      (signer) => store.recordDocument("rotation-directive", signer),
    );
    console.log(
      `Signed rotation directive #${recorded.serial} for ${targets.length} computer${
        targets.length === 1 ? "" : "s"
      } (${targets.join(", ")}): each rotates its keys at its next report` +
        (compromised
          ? "; no hand-over is trusted: confirm each new entry with mle-admin computers confirm NEW, which revokes the old id"
          : "; the old key hands over to the new one, and the old id is refused from then on"),
    );
    console.log("Follow them with: mle-admin computers rotations");
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/** Runs `mle-admin computers rotations …`. */
export async function rotationsCommand(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseOptions(args, { json: { type: "boolean" } });
  const store = await openExistingStore(resolveDataDir(context));
  let outstanding: RotationStatus[];
  let computers: Map<number, ComputerRecord>;
  try {
    const all = await store.listComputers();
    computers = new Map(all.map((c) => [c.id, c] as const));
    outstanding = [...(await rotationStatuses(store, all)).values()].filter((s) =>
      s.state === "requested" || s.awaitingConfirm
    );
  } finally {
    store.close();
  }
  if (values.json === true) {
    console.log(JSON.stringify(outstanding, null, 2));
    return EXIT.ok;
  }
  if (outstanding.length === 0) {
    console.log("No key rotation is outstanding");
    return EXIT.ok;
  }
  console.log(
    formatTable(
      ["ID", "HOSTNAME", "REQUESTED", "DIRECTIVE", "MODE", "LAST REPORT", "STATUS"],
      outstanding.map((s) => [
        String(s.computerId),
        computers.get(s.computerId)?.hostname ?? "-",
        formatTime(s.requestedAt),
        `#${s.requestedIn}`,
        s.compromised ? "compromised" : "hand-over",
        formatTime(computers.get(s.computerId)?.lastReportAt),
        s.awaitingConfirm
          ? `done → ${s.newComputerId}: mle-admin computers confirm ${s.newComputerId}`
          : "waiting for its next report",
      ]),
    ).trimEnd(),
  );
  return EXIT.ok;
}

function readStoredDirective(text: string): RotationDirective {
  const body = readUnverifiedBody(text);
  try {
    if (body === null) throw new Error("not a signed JSON document");
    return readRotationDirective(body);
  } catch (error) {
    throw new CliError(
      `Cannot read the rotation directive in the store: ${(error as Error).message}`,
      { hint: "the data dir's database was altered; restore it from a backup" },
    );
  }
}
