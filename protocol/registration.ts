/**
 * Registration: a client proves possession of its new key by signing its registration with it.
 * The server binds the computer id it assigns to that public key; the key is the only credential.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import { type FlattenedJws, readJwsHeader, signJsonJws, verifyJws } from "../envelope/jws.ts";
import { importSigningPublicKey } from "../envelope/signature.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";

/** JWS `typ` of a registration. */
export const REGISTRATION_TYPE = "mle-registration";

/** What a client says when it registers. */
export interface RegistrationClaims {
  /** Raw Ed25519 public key, base64url. */
  publicKey: string;
  /** A stable identifier of the machine (or instance), to detect duplicates; never a credential. */
  hostIdentity: string;
  hostname: string;
  /** Milliseconds since the epoch, to bound replays. */
  issuedAt: number;
  /** After a key rotation: the old key's signed hand-over to this key. */
  handover?: FlattenedJws;
  /** After a rotation with `--compromised`: the computer id this registration replaces. */
  previousComputerId?: number;
  /** True after a rotation with `--compromised`: no hand-over is trusted. */
  compromised?: boolean;
}

/** Signs a registration with the client key it registers. */
export async function signRegistration(
  clientPrivateKey: CryptoKey,
  claims: RegistrationClaims,
): Promise<FlattenedJws> {
  return await signJsonJws(clientPrivateKey, REGISTRATION_TYPE, claims);
}

/**
 * Verifies a registration against the public key it carries (proof of possession).
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` or `ERR_SIGNATURE_INVALID`.
 */
export async function verifyRegistration(
  value: unknown,
): Promise<{ claims: RegistrationClaims; publicKey: CryptoKey }> {
  const { jws } = readJwsHeader(value);
  let claims: RegistrationClaims;
  try {
    claims = JSON.parse(
      decodeUtf8(decodeBase64Url(jws.payload)),
    );
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read registration: payload is not JSON", {
      cause,
    });
  }
  if (
    typeof claims !== "object" || claims === null || typeof claims.publicKey !== "string" ||
    !isPrintable(claims.hostIdentity, 512) || !isPrintable(claims.hostname, 255) ||
    typeof claims.issuedAt !== "number" ||
    (claims.previousComputerId !== undefined && !Number.isSafeInteger(claims.previousComputerId)) ||
    (claims.compromised !== undefined && typeof claims.compromised !== "boolean") ||
    (claims.handover !== undefined &&
      (typeof claims.handover !== "object" || claims.handover === null))
  ) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read registration: missing or bad fields");
  }
  let publicKey: CryptoKey;
  try {
    publicKey = await importSigningPublicKey(decodeBase64Url(claims.publicKey));
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read registration: bad public key", {
      cause,
    });
  }
  await verifyJws(publicKey, jws, REGISTRATION_TYPE);
  return { claims, publicKey };
}

/**
 * A string of at most `max` characters with no control or format characters: the host identity and
 * hostname are printed on the operator's terminal, where an escape sequence or a bidirectional
 * override could hide or rewrite what the operator reads.
 */
function isPrintable(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length <= max && !/[\p{Cc}\p{Cf}]/u.test(value);
}
