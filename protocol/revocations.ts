/**
 * The revocation list: the site key's signed list of computer ids whose keys must no longer be
 * accepted, and of the MLE key ids the site retired (`mle-admin encryption retire`), which must
 * no longer decrypt anything. The server serves it; relays fetch it on start and on an interval;
 * authenticating relays refuse the listed computers, and decrypting relays stop using the listed
 * keys (a report still encrypted to one passes through untouched, as for a key they do not hold).
 * A revoked id is never reused, a retired key never comes back.
 *
 * @module
 */

import { isKeyId } from "../envelope/encryption_key.ts";
import { MleError } from "../envelope/errors.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";

/** The list's body. */
export interface RevocationList {
  /** Revoked computer ids, ascending. */
  revoked: number[];
  /** Retired MLE key ids (40 hex digits), sorted; absent from lists signed before keys were. */
  retiredKeys?: string[];
  /** Milliseconds since the epoch: a newer list replaces an older one, never the reverse. */
  issuedAt: number;
}

/** Signs a revocation list. */
export async function signRevocations(
  sitePrivateKey: CryptoKey,
  list: RevocationList,
): Promise<SignedDocument> {
  const revoked = [...new Set(list.revoked)].sort((a, b) => a - b);
  const retiredKeys = [...new Set(list.retiredKeys ?? [])].sort();
  if (!retiredKeys.every(isKeyId)) {
    throw new RangeError("Cannot sign revocation list: a retired key id is not 40 hex digits");
  }
  return await signDocument(sitePrivateKey, "mle-revocations", {
    revoked,
    retiredKeys,
    issuedAt: list.issuedAt,
  });
}

/**
 * Verifies a revocation list against the site key.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`.
 */
export async function verifyRevocations(
  siteKey: CryptoKey,
  document: unknown,
): Promise<RevocationList> {
  const body = await verifyDocument(siteKey, "mle-revocations", document);
  const revoked = body.revoked;
  const retiredKeys = body.retiredKeys ?? [];
  if (
    !Array.isArray(revoked) || typeof body.issuedAt !== "number" ||
    !revoked.every((id) => Number.isSafeInteger(id) && id > 0) ||
    !Array.isArray(retiredKeys) || !retiredKeys.every(isKeyId)
  ) {
    throw new MleError("ERR_DOCUMENT_INVALID", "Cannot read revocation list: bad fields");
  }
  return {
    revoked: revoked as number[],
    retiredKeys: retiredKeys as string[],
    issuedAt: body.issuedAt,
  };
}
