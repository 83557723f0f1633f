/**
 * Whether the server refuses clear text from a computer: by default when the computer's level is
 * required, by the `_BESClient_Report_Encryption` setting deployed for it (per setting the newest
 * document wins, as on the client: `mergeSettings`) or, failing that, the level it last reported.
 * `mle-server run --accept-clear-from-required` turns the refusal off for a migration.
 *
 * The deployed levels are kept in memory, so that a clear-text report costs no store read (on
 * PostgreSQL, a round trip). They are read anew when the settings records change: the server
 * checks at start and then with the other caches it follows (`store_changes.ts`, every
 * `STORE_POLL_MS`), so a level the admin tool or the console deploys is in force within that time.
 *
 * @module
 */

import { ENCRYPTION_LEVEL_SETTING } from "../protocol/encryption_level.ts";
import { SettingForEveryComputer } from "../store/settings_in_force.ts";
import type { SettingsVersion, Store } from "../store/store.ts";
import { IngestError } from "./ingest_error.ts";

/** Whether clear text from a computer, whose last report said this level, is refused. */
export type ClearTextCheck = (computerId: number, lastKnownLevel: string | null) => boolean;

/** The refusal of clear text from computers whose level is required, with the levels it reads. */
export class ClearTextPolicy {
  readonly #store: Store;
  readonly #refuseFromRequired: boolean;
  #levels = new SettingForEveryComputer(ENCRYPTION_LEVEL_SETTING, []);
  #version: SettingsVersion | null = null;
  /** The read in progress: reads run one after another, so an older one never lands last. */
  #reading: Promise<unknown> = Promise.resolve();

  /**
   * @param refuseFromRequired false with `--accept-clear-from-required`: nothing is refused, and
   * the settings are never read.
   */
  constructor(store: Store, refuseFromRequired: boolean) {
    this.#store = store;
    this.#refuseFromRequired = refuseFromRequired;
  }

  /**
   * Reads the deployed levels again if a settings record was added since the last read.
   *
   * @returns the settings records read, or null when nothing changed.
   */
  refresh(): Promise<number | null> {
    const read = this.#reading.then(() => this.#read());
    this.#reading = read.then(() => {}, () => {});
    return read;
  }

  async #read(): Promise<number | null> {
    if (!this.#refuseFromRequired) return null;
    const version = await this.#store.settingsVersion();
    const known = this.#version;
    if (known?.count === version.count && known.lastSerial === version.lastSerial) return null;
    const records = await this.#store.listSettings();
    this.#levels = new SettingForEveryComputer(ENCRYPTION_LEVEL_SETTING, records);
    this.#version = version;
    return records.length;
  }

  /**
   * True when clear text from this computer is refused: its deployed level, else the level it
   * last reported (`lastKnownLevel`), is required.
   *
   * @example
   * ```ts ignore
   * if (policy.isRefused(report.cid, sender.record.encryptionLevel)) throw clearTextRefusal("report");
   * ```
   */
  isRefused(computerId: number, lastKnownLevel: string | null): boolean {
    if (!this.#refuseFromRequired) return false;
    const deployed = this.#levels.valueFor(computerId)?.toLowerCase();
    return (deployed ?? lastKnownLevel) === "required";
  }
}

/**
 * The refusal of clear text from a computer whose level is required (403
 * `ERR_CLEAR_TEXT_REFUSED`): the one message of every ingest path, naming both ways out.
 */
export function clearTextRefusal(what: "report" | "upload"): IngestError {
  return new IngestError(
    403,
    "ERR_CLEAR_TEXT_REFUSED",
    `Cannot accept a clear-text ${what} from a computer whose encryption level is required: ` +
      "encrypt it (deploy the site's encryption key with mle-admin encryption deploy; the " +
      "client then encrypts), or, to let clear text in during a migration, run the server " +
      "with mle-server run --accept-clear-from-required",
  );
}
