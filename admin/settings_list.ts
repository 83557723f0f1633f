/**
 * `mle-admin settings list`: the client settings in force, site-wide and per computer, each with
 * the signed document that set it (or removed it), when and by whom. "In force" is computed with
 * `mergeSettings`, the merge the clients apply, over the documents the server serves them.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { type DeployedSettings, mergeSettings, readStoredSettings } from "../protocol/settings.ts";
import type { SettingsRecord } from "../store/mod.ts";
import { settingsDocumentsOf } from "../store/settings_in_force.ts";
import {
  type CommandContext,
  parseComputerId,
  parseOptions,
  resolveDataDir,
  stringOption,
} from "./_args.ts";
import { formatTable, formatTime } from "./_format.ts";
import { openExistingStore, requireKnownComputers } from "./_site.ts";

/** One setting in force (or removed), with its origin. */
export interface SettingEntry {
  name: string;
  /** Null when the newest document naming it removed it. */
  value: string | null;
  /** Whom the document that decided it targets: "all", or this computer's id. */
  target: "all" | number;
  /** The store's serial of that document (`Stored signed settings #N`). */
  serial: number | null;
  issuedAt: number;
  issuedBy: string | null;
}

/** Where each signed document is recorded: its id to serial and target. */
function originsOf(records: readonly SettingsRecord[]) {
  const origins = new Map<string, { serial: number; issuedBy: string | null }>();
  records.forEach((record) => {
    const document = readStoredSettings(record.document);
    if (document && typeof document.id === "string" && !origins.has(document.id)) {
      const by = typeof document.issuedBy === "string" ? document.issuedBy : null;
      origins.set(document.id, { serial: record.serial, issuedBy: by });
    }
  });
  return origins;
}

/**
 * The entries of merged settings, sorted by name; each is attributed to all computers unless the
 * document that decided it targets `computerId` alone.
 */
function entriesOf(
  merged: DeployedSettings,
  records: readonly SettingsRecord[],
  computerId: number | null,
): SettingEntry[] {
  const origins = originsOf(records);
  const siteWideIds = new Set(
    settingsDocumentsOf(records.filter((r) => r.computerId === null)).map((d) => d.id),
  );
  return Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)).map(([name, setting]) => {
    const origin = origins.get(setting.id);
    return {
      name,
      value: setting.value,
      target: computerId === null || siteWideIds.has(setting.id) ? "all" : computerId,
      serial: origin?.serial ?? null,
      issuedAt: setting.issuedAt,
      issuedBy: origin?.issuedBy ?? null,
    };
  });
}

/** Renders entries as the human table. */
export function formatSettingEntries(entries: readonly SettingEntry[]): string {
  return formatTable(
    ["NAME", "VALUE", "SET FOR", "DOCUMENT", "SIGNED", "BY"],
    entries.map((entry) => [
      entry.name,
      entry.value ?? "(removed)",
      entry.target === "all" ? "all computers" : `computer ${entry.target}`,
      entry.serial === null ? "-" : `#${entry.serial}`,
      formatTime(entry.issuedAt),
      entry.issuedBy ?? "-",
    ]),
  );
}

/** Runs `mle-admin settings list …`. */
export async function listSettings(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseOptions(args, {
    computer: { type: "string" },
    json: { type: "boolean" },
  });
  const computerText = stringOption(values, "computer");
  const computerId = computerText === undefined ? null : parseComputerId(computerText);
  const store = await openExistingStore(resolveDataDir(context));
  let records: SettingsRecord[];
  try {
    if (computerId !== null) {
      await requireKnownComputers(store, [computerId], "list the settings of");
    }
    records = computerId === null
      ? await store.listSettings()
      : await store.listSettingsFor(computerId);
  } finally {
    store.close();
  }
  const siteWideRecords = records.filter((r) => r.computerId === null);
  if (computerId !== null) {
    const entries = entriesOf(mergeSettings({}, settingsDocumentsOf(records)), records, computerId);
    if (values.json === true) {
      console.log(JSON.stringify({ computerId, settings: entries }, null, 2));
    } else if (entries.length === 0) {
      console.log(`No settings are deployed for computer ${computerId}`);
    } else {
      console.log(`Settings in force for computer ${computerId}:`);
      console.log(formatSettingEntries(entries).trimEnd());
    }
    return EXIT.ok;
  }
  const siteWide = entriesOf(
    mergeSettings({}, settingsDocumentsOf(siteWideRecords)),
    siteWideRecords,
    null,
  );
  // Each computer with documents of its own: what they decide for it, over the site-wide ones.
  const ids = [...new Set(records.flatMap((r) => r.computerId === null ? [] : [r.computerId]))]
    .sort((a, b) => a - b);
  const computers = ids.map((id) => {
    const own = records.filter((r) => r.computerId === null || r.computerId === id);
    const entries = entriesOf(mergeSettings({}, settingsDocumentsOf(own)), own, id)
      .filter((entry) => entry.target === id);
    return { computerId: id, settings: entries };
  }).filter((computer) => computer.settings.length > 0);
  if (values.json === true) {
    console.log(JSON.stringify({ siteWide, computers }, null, 2));
    return EXIT.ok;
  }
  if (siteWide.length === 0 && computers.length === 0) {
    console.log("No settings are deployed");
    return EXIT.ok;
  }
  console.log("Site-wide (all computers):");
  console.log(siteWide.length === 0 ? "  none" : formatSettingEntries(siteWide).trimEnd());
  for (const computer of computers) {
    console.log(`\nComputer ${computer.computerId} (its own, over the site-wide ones):`);
    console.log(formatSettingEntries(computer.settings).trimEnd());
  }
  return EXIT.ok;
}
