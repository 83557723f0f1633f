/**
 * Groups of duplicate computer entries and what `mle-admin computers remove-duplicates` does with
 * each member. A duplicate mark only says that two registrations gave the same host identity,
 * which is no proof (it travels in clear, and a local user can compute it): a newer registration
 * may be an impostor. So a group keeps the entry that reported most recently, not the newest
 * registration, and an entry that reported (or, never having reported, registered) within the
 * minimum idle time is never removed unless forced.
 *
 * @module
 */

import type { ComputerRecord } from "../store/mod.ts";
import { formatTime } from "./_format.ts";

/** The default `--min-idle` of `remove-duplicates`, in days. */
export const DEFAULT_MIN_IDLE_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What happens to one member of a group. */
export type DuplicateAction = "keep" | "remove";

/** One member of a group, with the action and why. */
export interface DuplicateMember {
  computer: ComputerRecord;
  action: DuplicateAction;
  reason: string;
}

/** Registrations linked as duplicates of each other, the entry kept first. */
export interface DuplicateGroup {
  /** The id of the entry the group keeps: the one that reported most recently. */
  keep: number;
  members: DuplicateMember[];
}

/** How `remove-duplicates` decides. */
export interface DuplicatePolicy {
  now: number;
  /** Entries seen within this many days are kept unless `force`. */
  minIdleDays: number;
  force: boolean;
}

/**
 * The duplicate groups among `computers` (removed entries left out) and each member's action.
 *
 * @example
 * ```ts
 * import { duplicateGroups } from "./_duplicate_groups.ts";
 * console.log(duplicateGroups([], { now: 0, minIdleDays: 7, force: false })); // []
 * ```
 */
export function duplicateGroups(
  computers: readonly ComputerRecord[],
  policy: DuplicatePolicy,
): DuplicateGroup[] {
  const present = new Map(
    computers.filter((c) => c.removedAt === null).map((c) => [c.id, c] as const),
  );
  // Union-find over the duplicate links: each group is one connected set of entries.
  const parent = new Map<number, number>();
  const find = (id: number): number => {
    while ((parent.get(id) ?? id) !== id) id = parent.get(id)!;
    return id;
  };
  const linked = new Set<number>();
  for (const computer of present.values()) {
    if (computer.duplicateOf === null || !present.has(computer.duplicateOf)) continue;
    linked.add(computer.id).add(computer.duplicateOf);
    const [a, b] = [find(computer.id), find(computer.duplicateOf)];
    if (a !== b) parent.set(a, b);
  }
  const groups = new Map<number, ComputerRecord[]>();
  for (const id of linked) {
    const key = find(id);
    groups.set(key, [...(groups.get(key) ?? []), present.get(id)!]);
  }
  return [...groups.values()]
    .filter((members) => members.length > 1)
    .map((members) => planGroup(members, policy))
    .sort((a, b) => a.keep - b.keep);
}

function planGroup(members: ComputerRecord[], policy: DuplicatePolicy): DuplicateGroup {
  // Prefer an entry that may still report (not revoked or replaced), then the latest report, then
  // the newest registration.
  const rank = (c: ComputerRecord) =>
    [c.revokedAt === null && c.replacedBy === null ? 1 : 0, c.lastReportAt ?? -1, c.id] as const;
  const ordered = [...members].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return y[0] - x[0] || y[1] - x[1] || y[2] - x[2];
  });
  const [kept, ...others] = ordered;
  const minIdleMs = policy.minIdleDays * DAY_MS;
  return {
    keep: kept.id,
    members: [
      {
        computer: kept,
        action: "keep",
        reason: kept.lastReportAt === null
          ? "the newest registration of its group (none has reported)"
          : `the most recent report of its group (${formatTime(kept.lastReportAt)})`,
      },
      ...others.map((computer): DuplicateMember => {
        const seen = computer.lastReportAt ?? computer.registeredAt;
        const what = computer.lastReportAt === null ? "registered" : "reported";
        if (!policy.force && policy.now - seen < minIdleMs) {
          return {
            computer,
            action: "keep",
            reason: `it ${what} within the last ${policy.minIdleDays} days (${
              formatTime(seen)
            }); --force removes it`,
          };
        }
        return {
          computer,
          action: "remove",
          reason: computer.lastReportAt === null
            ? `never reported (registered ${formatTime(computer.registeredAt)})`
            : `last reported ${formatTime(computer.lastReportAt)}`,
        };
      }),
    ],
  };
}
