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
import {
  type DocumentVersion,
  readDocumentSerial,
  readSignedDocumentSerial,
} from "./document_version.ts";

/**
 * The list's body. Which of two is newer: {@linkcode compareDocumentVersions} (the store's
 * `serial`; lists signed before serials have none and are older than any with one).
 */
export interface RevocationList extends DocumentVersion {
  /** Revoked computer ids, ascending. */
  revoked: number[];
  /** Retired MLE key ids (40 hex digits), sorted; absent from lists signed before keys were. */
  retiredKeys?: string[];
  /** Milliseconds since the epoch, by the signing host's clock. */
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
  try {
    readDocumentSerial({ serial: list.serial });
  } catch (error) {
    throw new RangeError(`Cannot sign revocation list: ${(error as Error).message}`);
  }
  return await signDocument(sitePrivateKey, "mle-revocations", {
    revoked,
    retiredKeys,
    ...(list.serial === undefined ? {} : { serial: list.serial }),
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
  const serial = readSignedDocumentSerial(body, "revocation list");
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
    ...(serial === undefined ? {} : { serial }),
    issuedAt: body.issuedAt,
  };
}
