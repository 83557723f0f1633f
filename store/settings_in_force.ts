/**
 * The client settings in force for a computer, from the settings documents the store holds: the
 * same per-setting newest-wins merge the clients apply (`protocol/settings.ts` `mergeSettings`),
 * so the server's clear-text policy and the admin tool see what the clients see.
 *
 * @module
 */

import {
  type DeployedSettings,
  mergeSettings,
  readStoredSettings,
  type SettingsDocument,
} from "../protocol/settings.ts";
import type { SettingsRecord, Store } from "./store.ts";

/** The readable documents of some settings records (the store holds only what the admin signed). */
export function settingsDocumentsOf(records: readonly SettingsRecord[]): SettingsDocument[] {
  return records.flatMap((record) => readStoredSettings(record.document) ?? []);
}

/**
 * The merged settings of one computer (its own documents and those for all computers), removals
 * included as null values.
 *
 * @example
 * ```ts ignore
 * const level = (await settingsInForceFor(store, 12))["_BESClient_Report_Encryption"]?.value;
 * ```
 */
export async function settingsInForceFor(
  store: Store,
  computerId: number,
): Promise<DeployedSettings> {
  return mergeSettings({}, settingsDocumentsOf(await store.listSettingsFor(computerId)));
}
