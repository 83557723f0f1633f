/**
 * Publishes the site-signed revocation list from what the store says now: every revoked
 * computer and every retired MLE key. Every act that changes either (`computers revoke`,
 * `computers confirm`, `encryption retire`) signs a fresh one, so the list relays fetch always
 * names both.
 *
 * @module
 */

import { signRevocations } from "../protocol/revocations.ts";
import type { Store } from "../store/mod.ts";
import { revocationContent } from "../store/revocation_content.ts";
import { recordSupersedingDocument } from "./_numbered_documents.ts";

/** What the published list names. */
export interface PublishedRevocations {
  revoked: number;
  retiredKeys: number;
  /** The list's serial, allocated by the store. */
  serial: number;
}

/**
 * Signs the revocation list with the site key and the store's next serial, and stores it for the
 * server to serve.
 *
 * @throws {CliError} When it would not supersede the list the server serves.
 */
export async function publishRevocations(
  store: Store,
  sitePrivateKey: CryptoKey,
  now = Date.now(),
): Promise<PublishedRevocations> {
  const { revoked, retiredKeys } = await revocationContent(store);
  const { serial } = await recordSupersedingDocument(
    "revocation list",
    now,
    (version) => signRevocations(sitePrivateKey, { revoked, retiredKeys, ...version }),
    (signer) => store.recordDocument("revocations", signer),
  );
  return { revoked: revoked.length, retiredKeys: retiredKeys.length, serial };
}
