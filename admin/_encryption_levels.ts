/**
 * Which computers require encryption, and which of them disabling encryption orphaned: what
 * `encryption disable` warns about (seed 000: "if encryption is disabled in BigFix Admin, any
 * clients configured to require MLE would no longer be able to report"), and what
 * `encryption status` and `computers list` show afterwards.
 *
 * A computer's level is the latest `_BESClient_Report_Encryption` the site deployed for it (to it
 * or to all), else the level its last report said it uses. Revoked, replaced and removed computers
 * do not count: they report no more anyway.
 *
 * @module
 */

import { decodeBase64UrlText } from "../envelope/base64url.ts";
import { ENCRYPTION_LEVEL_SETTING } from "../protocol/encryption_level.ts";
import { SettingForEveryComputer } from "../store/settings_in_force.ts";
import type { ComputerRecord, Store } from "../store/mod.ts";

/** A computer's effective level and where it comes from. */
export interface ComputerLevel {
  computer: ComputerRecord;
  level: string | null;
  source: "deployed" | "reported" | null;
}

/** When encryption was disabled (the signed "disabled" certificate), or null while it is not. */
export async function disabledSince(store: Store): Promise<number | null> {
  const text = await store.getDocument("encryption-certificate");
  if (text === null) return null;
  try {
    // The store holds only what the admin tool signed; reading the payload suffices here.
    const body = JSON.parse(decodeBase64UrlText(JSON.parse(text).payload));
    return body?.enabled === false && typeof body.issuedAt === "number" ? body.issuedAt : null;
  } catch {
    return null;
  }
}

/** True for a computer that still reports: not revoked, replaced or removed. */
export function isActive(computer: ComputerRecord): boolean {
  return computer.revokedAt === null && computer.replacedBy === null &&
    computer.removedAt === null;
}

/** The effective level of every active computer. */
export async function computerLevels(store: Store): Promise<ComputerLevel[]> {
  const levels: ComputerLevel[] = [];
  // The merge the clients apply: per setting, the newest document wins (a removal included).
  const deployedLevels = new SettingForEveryComputer(
    ENCRYPTION_LEVEL_SETTING,
    await store.listSettings(),
  );
  for (const computer of await store.listComputers()) {
    if (!isActive(computer)) continue;
    const deployed = deployedLevels.valueFor(computer.id)?.toLowerCase() ?? null;
    if (deployed !== null) levels.push({ computer, level: deployed, source: "deployed" });
    else if (computer.encryptionLevel !== null) {
      levels.push({ computer, level: computer.encryptionLevel, source: "reported" });
    } else levels.push({ computer, level: null, source: null });
  }
  return levels;
}

/** The active computers whose level is required. */
export async function requiredComputers(store: Store): Promise<ComputerLevel[]> {
  return (await computerLevels(store)).filter((entry) => entry.level === "required");
}

/**
 * The computers encryption being off orphans: level required, and no report since the disable.
 * Empty while encryption is not disabled.
 */
export async function orphanedComputers(store: Store): Promise<ComputerLevel[]> {
  const since = await disabledSince(store);
  if (since === null) return [];
  return (await requiredComputers(store)).filter((entry) =>
    entry.computer.lastReportAt === null || entry.computer.lastReportAt < since
  );
}

/** One line per computer: id, hostname, level source and last report, for messages. */
export function describeComputers(entries: readonly ComputerLevel[], max = 20): string {
  const lines = entries.slice(0, max).map(({ computer, source }) =>
    `  computer ${computer.id} (${computer.hostname ?? "no hostname"}): level required ` +
    `(${source === "deployed" ? "deployed setting" : "as it last reported"}), last report ${
      computer.lastReportAt === null ? "never" : new Date(computer.lastReportAt).toISOString()
    }`
  );
  if (entries.length > max) lines.push(`  … and ${entries.length - max} more`);
  return lines.join("\n");
}
