/**
 * The filters of `mle-admin computers list`: by a property of the last report (`--where`), by
 * effective encryption level (`--level`), by the key the last report was encrypted to (`--key`)
 * and by state (`--state`). The level is the one clients apply (`_encryption_levels.ts`), the
 * property match the one `computers rotate-keys --where` uses: one rule each.
 *
 * @module
 */

import { UsageError } from "../cli/output.ts";
import type { ComputerRecord, Store } from "../store/mod.ts";
import { computerLevels } from "./_encryption_levels.ts";
import { parseWhere, reportMatches } from "./computer_rotations.ts";

/** The states `--state` selects; a computer may be in several (flagged and active). */
export const COMPUTER_STATES = [
  "active",
  "revoked",
  "replaced",
  "duplicate",
  "flagged",
  "removed",
  "orphaned",
] as const;

/** One of {@linkcode COMPUTER_STATES}. */
export type ComputerState = typeof COMPUTER_STATES[number];

const LEVELS = ["required", "optional", "none"] as const;

/** What `computers list` keeps; an empty filter keeps everything. */
export interface ComputerFilter {
  where: Array<[string, string]>;
  level: typeof LEVELS[number] | null;
  /** A key id or its first characters (at least 4), or "clear" for clear-text reporters. */
  key: string | null;
  states: ReadonlySet<ComputerState>;
}

/** True when the filter keeps every computer. */
export function isEmptyFilter(filter: ComputerFilter): boolean {
  return filter.where.length === 0 && filter.level === null && filter.key === null &&
    filter.states.size === 0;
}

/**
 * Reads the filter options.
 *
 * @throws {UsageError} Naming the option and the values it takes.
 */
export function parseComputerFilter(options: {
  where: readonly string[];
  level: string | undefined;
  key: string | undefined;
  states: readonly string[];
}): ComputerFilter {
  const level = options.level?.toLowerCase();
  if (level !== undefined && !(LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `Cannot use --level "${options.level}": expected required, optional or none`,
    );
  }
  const key = options.key?.toLowerCase();
  if (key !== undefined && key !== "clear" && !/^[0-9a-f]{4,40}$/.test(key)) {
    throw new UsageError(
      `Cannot use --key "${options.key}": expected a key id (or its first 4 or more hex digits) or "clear"`,
      "see the key ids with: mle-admin encryption status",
    );
  }
  const states = new Set<ComputerState>();
  for (const state of options.states.flatMap((text) => text.split(","))) {
    const name = state.trim().toLowerCase();
    if (!(COMPUTER_STATES as readonly string[]).includes(name)) {
      throw new UsageError(
        `Cannot use --state "${state}": expected one of ${COMPUTER_STATES.join(", ")}`,
      );
    }
    states.add(name as ComputerState);
  }
  return {
    where: parseWhere(options.where),
    level: (level ?? null) as ComputerFilter["level"],
    key: key ?? null,
    states,
  };
}

/** The states a computer is in (`orphaned`: the ids encryption being off orphans). */
export function statesOf(
  computer: ComputerRecord,
  orphaned: ReadonlySet<number>,
): ComputerState[] {
  const states: ComputerState[] = [];
  if (computer.removedAt !== null) states.push("removed");
  else if (computer.revokedAt !== null) states.push("revoked");
  else if (computer.replacedBy !== null) states.push("replaced");
  else states.push("active");
  if (computer.duplicateOf !== null) states.push("duplicate");
  if (computer.flagged !== null && computer.removedAt === null) states.push("flagged");
  if (orphaned.has(computer.id)) states.push("orphaned");
  return states;
}

/** Whether a computer's last report was encrypted to the key `--key` names. */
export function keyMatches(computer: ComputerRecord, key: string): boolean {
  if (computer.lastReportAt === null) return false;
  if (key === "clear") return computer.lastKid === null;
  return computer.lastKid !== null && computer.lastKid.toLowerCase().startsWith(key);
}

/** The computers the filter keeps, in the order given. */
export async function filterComputers(
  store: Store,
  computers: readonly ComputerRecord[],
  filter: ComputerFilter,
  orphaned: ReadonlySet<number>,
): Promise<ComputerRecord[]> {
  let kept = computers.filter((computer) =>
    (filter.key === null || keyMatches(computer, filter.key)) &&
    (filter.states.size === 0 ||
      statesOf(computer, orphaned).some((state) => filter.states.has(state)))
  );
  if (filter.level !== null) {
    const levels = new Map(
      (await computerLevels(store)).map((entry) => [entry.computer.id, entry.level] as const),
    );
    kept = kept.filter((computer) => levels.get(computer.id) === filter.level);
  }
  if (filter.where.length > 0) {
    const matching: ComputerRecord[] = [];
    for (const computer of kept) {
      const last = await store.lastReport(computer.id);
      if (last !== null && reportMatches(last.body, filter.where)) matching.push(computer);
    }
    kept = matching;
  }
  return kept;
}
