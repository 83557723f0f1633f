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

/** What the published list names. */
export interface PublishedRevocations {
  revoked: number;
  retiredKeys: number;
}

/** Signs the revocation list with the site key and stores it for the server to serve. */
export async function publishRevocations(
  store: Store,
  sitePrivateKey: CryptoKey,
  now = Date.now(),
): Promise<PublishedRevocations> {
  const revoked = await store.listRevokedIds();
  const retiredKeys = (await store.listEncryptionKeys())
    .filter((key) => key.role === "retired")
    .map((key) => key.kid);
  const document = await signRevocations(sitePrivateKey, { revoked, retiredKeys, issuedAt: now });
  await store.putDocument("revocations", JSON.stringify(document));
  return { revoked: revoked.length, retiredKeys: retiredKeys.length };
}
