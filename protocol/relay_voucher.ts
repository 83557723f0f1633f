/**
 * A relay's voucher for a registration: a relay passing a registration to an authenticating
 * parent signs it with its own Ed25519 key, saying where the registration came from (the
 * client's address as the relay saw it) and whether the relay admitted it (an authenticating
 * relay that checked the client's password or one-time password). A parent that trusts that
 * relay's key (`mle-relay run --trust-relay KEY`) counts failed key exchanges against the
 * client's address rather than the relay's, and admits the client on an "admitted" voucher,
 * whatever password the client used below. The signature covers the statement and the
 * registration's protected header and payload, so a voucher speaks for that one registration and
 * nothing else. Pure: no files, no HTTP.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import {
  ED25519_PUBLIC_KEY_LENGTH,
  importSigningPublicKey,
  signBytes,
  verifyBytes,
} from "../envelope/signature.ts";

/** What a relay says about a registration it passes on. */
export interface VoucherStatement {
  /** True when this relay checked the client's password (an authenticating relay). */
  admitted: boolean;
  /** The client's address as this relay saw it (IPv4 or IPv6), or null when unknown. */
  source: string | null;
}

/** A voucher, carried as the registration's `relayVoucher` member. */
export interface RelayVoucher extends VoucherStatement {
  /** The vouching relay's raw Ed25519 public key, base64url. */
  publicKey: string;
  /** Its signature over the statement and the registration, base64url. */
  signature: string;
}

/** A verified voucher: who signed it, and what it says. */
export interface VerifiedVoucher extends VoucherStatement {
  publicKey: string;
}

const encoder = new TextEncoder();
const BASE64URL = /^[A-Za-z0-9_-]{1,200}$/;
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

function signedBytes(
  statement: VoucherStatement,
  registration: FlattenedJws,
): Uint8Array<ArrayBuffer> {
  return encoder.encode(
    `mle-relay-voucher.v2.${statement.admitted ? "admitted" : "passed"}.${
      statement.source ?? ""
    }.${registration.protected}.${registration.payload}`,
  );
}

/**
 * Signs a voucher for a registration.
 *
 * @example
 * ```ts
 * import { signRelayVoucher, verifyRelayVoucher } from "./relay_voucher.ts";
 * import { encodeBase64Url } from "../envelope/base64url.ts";
 * import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
 * const relay = await generateSigningKeyPair();
 * const key = encodeBase64Url(await exportSigningPublicKey(relay.publicKey));
 * const registration = { protected: "e30", payload: "e30", signature: "" };
 * const statement = { admitted: true, source: "192.0.2.7" };
 * const voucher = await signRelayVoucher(relay.privateKey, key, registration, statement);
 * console.log((await verifyRelayVoucher(voucher, registration))?.publicKey === key); // true
 * ```
 */
export async function signRelayVoucher(
  relayPrivateKey: CryptoKey,
  relayPublicKey: string,
  registration: FlattenedJws,
  statement: VoucherStatement,
): Promise<RelayVoucher> {
  const source = statement.source !== null && ADDRESS.test(statement.source)
    ? statement.source
    : null;
  const signed = { admitted: statement.admitted, source };
  const signature = await signBytes(relayPrivateKey, signedBytes(signed, registration));
  return { publicKey: relayPublicKey, signature: encodeBase64Url(signature), ...signed };
}

/**
 * Checks a voucher (any value, as received) against the registration it came with.
 *
 * @returns the vouching relay's public key and statement when the signature is good, else null.
 */
export async function verifyRelayVoucher(
  value: unknown,
  registration: FlattenedJws,
): Promise<VerifiedVoucher | null> {
  if (typeof value !== "object" || value === null) return null;
  const { publicKey, signature, admitted, source } = value as Partial<RelayVoucher>;
  if (
    typeof publicKey !== "string" || typeof signature !== "string" ||
    !BASE64URL.test(publicKey) || !BASE64URL.test(signature) || typeof admitted !== "boolean" ||
    !(source === null || (typeof source === "string" && ADDRESS.test(source)))
  ) {
    return null;
  }
  const statement = { admitted, source };
  try {
    const raw = decodeBase64Url(publicKey);
    if (raw.length !== ED25519_PUBLIC_KEY_LENGTH) return null;
    const key = await importSigningPublicKey(raw);
    const good = await verifyBytes(
      key,
      decodeBase64Url(signature),
      signedBytes(statement, registration),
    );
    return good ? { publicKey, ...statement } : null;
  } catch {
    return null;
  }
}

/** True for a well-formed relay public key (raw Ed25519, base64url), as `--trust-relay` takes. */
export function isRelayPublicKey(value: string): boolean {
  if (!BASE64URL.test(value)) return false;
  try {
    return decodeBase64Url(value).length === ED25519_PUBLIC_KEY_LENGTH;
  } catch {
    return false;
  }
}
