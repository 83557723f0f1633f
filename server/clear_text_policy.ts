/**
 * Whether the server refuses clear text from a computer: only when told to
 * (`--refuse-clear-from-required`) and the computer's level is required, by the latest deployed
 * `_BESClient_Report_Encryption` setting for it or, failing that, the level it last reported.
 *
 * @module
 */

import { decodeBase64UrlText } from "../envelope/base64url.ts";
import { ENCRYPTION_LEVEL_SETTING } from "../protocol/encryption_level.ts";
import type { Store } from "../store/store.ts";

/** Builds the policy function the ingest path calls for clear-text reports. */
export function clearTextPolicy(
  store: Store,
  refuseClearFromRequired: boolean,
): (computerId: number, lastKnownLevel: string | null) => Promise<boolean> {
  return async (computerId, lastKnownLevel) => {
    if (!refuseClearFromRequired) return false;
    let deployed: string | null = null;
    for (const record of await store.listSettingsFor(computerId)) {
      // The store holds only documents the admin tool signed; reading the payload suffices here.
      try {
        const body = JSON.parse(decodeBase64UrlText(JSON.parse(record.document).payload));
        const value = body?.settings?.[ENCRYPTION_LEVEL_SETTING];
        if (typeof value === "string") deployed = value.toLowerCase();
      } catch {
        // A document that does not parse sets nothing.
      }
    }
    return (deployed ?? lastKnownLevel) === "required";
  };
}
