/**
 * The revocation list: the site key's signed list of computer ids whose keys must no longer be
 * accepted. The server serves it; relays fetch it on start and on an interval, and authenticating
 * relays refuse the listed computers. A revoked id is never reused.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";

/** The list's body. */
export interface RevocationList {
  /** Revoked computer ids, ascending. */
  revoked: number[];
  /** Milliseconds since the epoch: a newer list replaces an older one, never the reverse. */
  issuedAt: number;
}

/** Signs a revocation list. */
export async function signRevocations(
  sitePrivateKey: CryptoKey,
  list: RevocationList,
): Promise<SignedDocument> {
  const revoked = [...new Set(list.revoked)].sort((a, b) => a - b);
  return await signDocument(sitePrivateKey, "mle-revocations", {
    revoked,
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
  if (
    !Array.isArray(revoked) || typeof body.issuedAt !== "number" ||
    !revoked.every((id) => Number.isSafeInteger(id) && id > 0)
  ) {
    throw new MleError("ERR_DOCUMENT_INVALID", "Cannot read revocation list: bad fields");
  }
  return { revoked: revoked as number[], issuedAt: body.issuedAt };
}
