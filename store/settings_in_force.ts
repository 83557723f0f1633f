/**
 * The client settings in force for a computer, from the settings documents the store holds: the
 * same per-setting newest-wins merge the clients apply (`protocol/settings.ts` `mergeSettings`),
 * so the server's clear-text policy and the admin tool see what the clients see.
 *
 * @module
 */

import {
  type DeployedSetting,
  mergeSettings,
  readStoredSettings,
  type SettingsDocument,
  supersedes,
} from "../protocol/settings.ts";
import type { SettingsRecord } from "./store.ts";

/** The readable documents of some settings records (the store holds only what the admin signed). */
export function settingsDocumentsOf(records: readonly SettingsRecord[]): SettingsDocument[] {
  return records.flatMap((record) => readStoredSettings(record.document) ?? []);
}

/**
 * One setting's value in force for every computer at once, read from every settings record: for
 * each computer, what the clients' merge (`mergeSettings`) of its own documents and those for all
 * gives for that setting, without a store read per computer. Built anew from the records whenever
 * they change (they are only ever added).
 *
 * @example
 * ```ts
 * import { SettingForEveryComputer } from "./settings_in_force.ts";
 * const levels = new SettingForEveryComputer("_BESClient_Report_Encryption", []);
 * console.log(levels.valueFor(12)); // undefined: never deployed
 * ```
 */
export class SettingForEveryComputer {
  readonly #siteWide: DeployedSetting | undefined;
  readonly #own = new Map<number, DeployedSetting>();

  constructor(name: string, records: readonly SettingsRecord[]) {
    let siteWide: DeployedSetting | undefined;
    for (const record of records) {
      const document = readStoredSettings(record.document);
      if (document === null) continue;
      const held = record.computerId === null ? siteWide : this.#own.get(record.computerId);
      const merged = mergeSettings(held ? { [name]: held } : {}, [document]);
      if (!Object.hasOwn(merged, name) || merged[name] === held) continue;
      if (record.computerId === null) siteWide = merged[name];
      else this.#own.set(record.computerId, merged[name]);
    }
    this.#siteWide = siteWide;
  }

  /**
   * The setting's value in force for a computer (the newest of its own documents and those for
   * all): the text, null where the newest removed it, undefined where it was never deployed.
   */
  valueFor(computerId: number): string | null | undefined {
    const own = this.#own.get(computerId);
    const siteWide = this.#siteWide;
    if (own === undefined) return siteWide?.value;
    return supersedes(own.issuedAt, own.id, siteWide) ? own.value : siteWide!.value;
  }
}
