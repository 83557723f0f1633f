/**
 * Whether the server refuses clear text from a computer: by default when the computer's level is
 * required, by the `_BESClient_Report_Encryption` setting deployed for it (per setting the newest
 * document wins, as on the client: `mergeSettings`) or, failing that, the level it last reported.
 * `mle-server run --accept-clear-from-required` turns the refusal off for a migration.
 *
 * @module
 */

import { ENCRYPTION_LEVEL_SETTING } from "../protocol/encryption_level.ts";
import { settingsInForceFor } from "../store/settings_in_force.ts";
import type { Store } from "../store/store.ts";
import { IngestError } from "./ingest_error.ts";

/** Builds the policy function the ingest paths call for clear-text reports and uploads. */
export function clearTextPolicy(
  store: Store,
  refuseClearFromRequired: boolean,
): (computerId: number, lastKnownLevel: string | null) => Promise<boolean> {
  return async (computerId, lastKnownLevel) => {
    if (!refuseClearFromRequired) return false;
    const deployed = (await settingsInForceFor(store, computerId))[ENCRYPTION_LEVEL_SETTING]?.value
      ?.toLowerCase();
    return (deployed ?? lastKnownLevel) === "required";
  };
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
