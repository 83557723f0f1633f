/**
 * The key hand-over: before a client discards its old key in a key rotation (without
 * `--compromised`), the old key signs the new public key, so the server can link the new computer
 * to the old one ("replaced by N") instead of leaving a duplicate for the operator to clean up.
 *
 * The hand-over also names the last sequence number the old key spent (`lastSeq`). Reports the
 * old key signed before the rotation may still be on their way (a relay answers 202 once a
 * report is in its spool, before the server has it), so the server keeps accepting the old id's
 * reports up to that number and refuses every later one. Those reports were signed by a key that
 * was not compromised: a rotation with `--compromised` makes no hand-over, so the operator's
 * confirmation revokes the old id outright and its spooled reports are refused, as a compromised
 * key's must be. A hand-over without `lastSeq` (an older client) reads as 0: no grace.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import { type FlattenedJws, signJsonJws, verifyJws } from "../envelope/jws.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";

/** JWS `typ` of a hand-over. */
export const HANDOVER_TYPE = "mle-handover";

/** What the old key vouches for. */
export interface HandoverClaims {
  oldComputerId: number;
  /** Raw Ed25519 public key of the new key pair, base64url. */
  newPublicKey: string;
  issuedAt: number;
  /**
   * The last report sequence number the old key spent (0 when none): the old id's reports up to
   * it are still accepted after the rotation, later ones never.
   */
  lastSeq: number;
}

/** Signs a hand-over with the old client key. */
export async function signHandover(
  oldPrivateKey: CryptoKey,
  claims: HandoverClaims,
): Promise<FlattenedJws> {
  return await signJsonJws(oldPrivateKey, HANDOVER_TYPE, claims);
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
  let claims: Omit<HandoverClaims, "lastSeq"> & { lastSeq?: unknown };
  try {
    claims = JSON.parse(decodeUtf8(payload));
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read hand-over: not JSON", { cause });
  }
  if (
    !Number.isSafeInteger(claims?.oldComputerId) || typeof claims.newPublicKey !== "string" ||
    typeof claims.issuedAt !== "number"
  ) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read hand-over: bad fields");
  }
  // An older client's hand-over has no lastSeq: no report of the old id is accepted after it.
  const lastSeq = claims.lastSeq === undefined ? 0 : claims.lastSeq;
  if (!Number.isSafeInteger(lastSeq) || (lastSeq as number) < 0) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read hand-over: bad last sequence number");
  }
  try {
    decodeBase64Url(claims.newPublicKey);
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read hand-over: bad new public key", {
      cause,
    });
  }
  return {
    oldComputerId: claims.oldComputerId,
    newPublicKey: claims.newPublicKey,
    issuedAt: claims.issuedAt,
    lastSeq: lastSeq as number,
  };
}

/** How far a hand-over's time may be from the checker's when it is used: 30 days. */
export const HANDOVER_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The computer id a hand-over names, read without verifying it (to find the key that must have
 * signed it), or null when it names none.
 */
export function handoverComputerId(document: unknown): number | null {
  try {
    const payload = (document as { payload?: unknown })?.payload;
    if (typeof payload !== "string") return null;
    const id = JSON.parse(new TextDecoder().decode(decodeBase64Url(payload)))?.oldComputerId;
    return Number.isSafeInteger(id) ? id : null;
  } catch {
    return null;
  }
}

/** A hand-over checked for a registration: its claims, or what is wrong with it. */
export type HandoverCheck =
  | { ok: true; claims: HandoverClaims }
  | { ok: false; problem: string };

/**
 * Checks a registration's hand-over as the statement of computer `expected.oldComputerId`'s key
 * (`oldPublicKey`) for the key registering (`expected.newPublicKey`), made within
 * {@linkcode HANDOVER_MAX_AGE_MS} of `expected.now`. The one check of the server and of an
 * authenticating relay.
 *
 * @example
 * ```ts ignore
 * const check = await checkHandover(old.publicKey, claims.handover, {
 *   oldComputerId: old.id,
 *   newPublicKey: claims.publicKey,
 *   now: Date.now(),
 * });
 * if (!check.ok) throw new Error(`Cannot accept hand-over: ${check.problem}`);
 * ```
 */
export async function checkHandover(
  oldPublicKey: CryptoKey,
  document: unknown,
  expected: { oldComputerId: number; newPublicKey: string; now: number },
): Promise<HandoverCheck> {
  let claims: HandoverClaims;
  try {
    claims = await verifyHandover(oldPublicKey, document);
  } catch {
    return { ok: false, problem: `it is not signed by computer ${expected.oldComputerId}'s key` };
  }
  if (claims.oldComputerId !== expected.oldComputerId) {
    return { ok: false, problem: "it names another computer" };
  }
  if (claims.newPublicKey !== expected.newPublicKey) {
    return { ok: false, problem: "it vouches for another key than the one registering" };
  }
  if (Math.abs(expected.now - claims.issuedAt) > HANDOVER_MAX_AGE_MS) {
    return { ok: false, problem: "it is more than 30 days old" };
  }
  return { ok: true, claims };
}
