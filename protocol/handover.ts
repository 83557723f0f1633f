/**
 * The key hand-over: before a client discards its old key in a key rotation (without
 * `--compromised`), the old key signs the new public key, so the server can link the new computer
 * to the old one ("replaced by N") instead of leaving a duplicate for the operator to clean up.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import { type FlattenedJws, signJws, verifyJws } from "../envelope/jws.ts";

/** JWS `typ` of a hand-over. */
export const HANDOVER_TYPE = "mle-handover";

/** What the old key vouches for. */
export interface HandoverClaims {
  oldComputerId: number;
  /** Raw Ed25519 public key of the new key pair, base64url. */
  newPublicKey: string;
  issuedAt: number;
}

/** Signs a hand-over with the old client key. */
export async function signHandover(
  oldPrivateKey: CryptoKey,
  claims: HandoverClaims,
): Promise<FlattenedJws> {
  return await signJws(
    oldPrivateKey,
    { typ: HANDOVER_TYPE },
    new TextEncoder().encode(JSON.stringify(claims)),
  );
}

/**
 * Verifies a hand-over with the old computer's public key.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID` or `ERR_ENVELOPE_MALFORMED`.
 */
export async function verifyHandover(
  oldPublicKey: CryptoKey,
  document: unknown,
): Promise<HandoverClaims> {
  const { payload } = await verifyJws(oldPublicKey, document, HANDOVER_TYPE);
  let claims: HandoverClaims;
  try {
    claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read hand-over: not JSON", { cause });
  }
  if (
    !Number.isSafeInteger(claims?.oldComputerId) || typeof claims.newPublicKey !== "string" ||
    typeof claims.issuedAt !== "number"
  ) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read hand-over: bad fields");
  }
  try {
    decodeBase64Url(claims.newPublicKey);
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read hand-over: bad new public key", {
      cause,
    });
  }
  return claims;
}
