/**
 * JWS (RFC 7515) with EdDSA over Ed25519, in flattened JSON and compact form.
 *
 * Every signed thing in the product is a JWS whose protected header carries a `typ` naming its
 * purpose (`mle-report`, `mle-settings`, …), so a signature made for one purpose can never be
 * accepted for another.
 *
 * @module
 */

import {
  decodeBase64Url,
  decodeBase64UrlText,
  encodeBase64Url,
  encodeBase64UrlText,
} from "./base64url.ts";
import { MleError } from "./errors.ts";
import { signBytes, verifyBytes } from "./signature.ts";

/** A JWS in flattened JSON serialization (RFC 7515 §7.2.2). */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** The protected header of our JWS: `alg` is always EdDSA and `typ` names the purpose. */
export interface JwsHeader {
  alg: "EdDSA";
  typ: string;
  [name: string]: unknown;
}

const encoder = new TextEncoder();

/**
 * Signs a payload with an Ed25519 key.
 *
 * @example
 * ```ts
 * import { signJws, verifyJws } from "./jws.ts";
 * import { generateSigningKeyPair } from "./signature.ts";
 * const pair = await generateSigningKeyPair();
 * const jws = await signJws(pair.privateKey, { typ: "example" }, new TextEncoder().encode("hi"));
 * const { payload } = await verifyJws(pair.publicKey, jws, "example");
 * console.log(new TextDecoder().decode(payload)); // "hi"
 * ```
 */
export async function signJws(
  privateKey: CryptoKey,
  header: { typ: string; [name: string]: unknown },
  payload: Uint8Array,
): Promise<FlattenedJws> {
  const protectedHeader = encodeBase64UrlText(JSON.stringify({ ...header, alg: "EdDSA" }));
  const encodedPayload = encodeBase64Url(payload);
  const signature = await signBytes(
    privateKey,
    encoder.encode(`${protectedHeader}.${encodedPayload}`),
  );
  return {
    protected: protectedHeader,
    payload: encodedPayload,
    signature: encodeBase64Url(signature),
  };
}

/**
 * Signs a JSON value as a JWS of `typ`: the payload is the value's JSON text in UTF-8 (site
 * documents, registrations, hand-overs).
 *
 * @example
 * ```ts
 * import { signJsonJws, verifyJws } from "./jws.ts";
 * import { generateSigningKeyPair } from "./signature.ts";
 * const pair = await generateSigningKeyPair();
 * const jws = await signJsonJws(pair.privateKey, "example", { serial: 1 });
 * const { payload } = await verifyJws(pair.publicKey, jws, "example");
 * console.log(new TextDecoder().decode(payload)); // '{"serial":1}'
 * ```
 */
export async function signJsonJws(
  privateKey: CryptoKey,
  typ: string,
  body: unknown,
): Promise<FlattenedJws> {
  return await signJws(privateKey, { typ }, encoder.encode(JSON.stringify(body)));
}

/**
 * Checks that a value has the shape of a flattened JWS and reads its protected header, without
 * verifying the signature (the header names who signed).
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` when the shape or the header is wrong.
 */
export function readJwsHeader(value: unknown): { jws: FlattenedJws; header: JwsHeader } {
  if (
    typeof value !== "object" || value === null ||
    typeof (value as FlattenedJws).protected !== "string" ||
    typeof (value as FlattenedJws).payload !== "string" ||
    typeof (value as FlattenedJws).signature !== "string"
  ) {
    throw new MleError(
      "ERR_ENVELOPE_MALFORMED",
      "Cannot read signed document: expected members protected, payload and signature",
    );
  }
  const jws = value as FlattenedJws;
  let header: unknown;
  try {
    header = JSON.parse(decodeBase64UrlText(jws.protected));
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read signed document: bad header", {
      cause,
    });
  }
  if (
    typeof header !== "object" || header === null || Array.isArray(header) ||
    (header as JwsHeader).alg !== "EdDSA" || typeof (header as JwsHeader).typ !== "string" ||
    "crit" in header
  ) {
    throw new MleError(
      "ERR_ENVELOPE_MALFORMED",
      'Cannot read signed document: expected header alg "EdDSA" with a typ',
    );
  }
  return { jws, header: header as JwsHeader };
}

/**
 * Verifies a flattened JWS made for the purpose `typ` and returns its header and payload.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` for a bad shape, `ERR_SIGNATURE_INVALID` for a bad
 * signature or another purpose.
 */
export async function verifyJws(
  publicKey: CryptoKey,
  value: unknown,
  typ: string,
): Promise<{ header: JwsHeader; payload: Uint8Array<ArrayBuffer> }> {
  const { jws, header } = readJwsHeader(value);
  let signature: Uint8Array<ArrayBuffer>;
  let payload: Uint8Array<ArrayBuffer>;
  try {
    signature = decodeBase64Url(jws.signature);
    payload = decodeBase64Url(jws.payload);
  } catch (cause) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read signed document: bad base64url", {
      cause,
    });
  }
  const signed = encoder.encode(`${jws.protected}.${jws.payload}`);
  if (header.typ !== typ || !(await verifyBytes(publicKey, signature, signed))) {
    throw new MleError("ERR_SIGNATURE_INVALID", `Cannot verify ${typ}: signature is not valid`);
  }
  return { header, payload };
}

/** Joins a flattened JWS into its compact form `protected.payload.signature`. */
export function toCompactJws(jws: FlattenedJws): string {
  return `${jws.protected}.${jws.payload}.${jws.signature}`;
}

/**
 * Splits a compact JWS into its flattened form.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` when it does not have three parts.
 */
export function fromCompactJws(compact: string): FlattenedJws {
  const parts = compact.split(".");
  if (parts.length !== 3) {
    throw new MleError("ERR_ENVELOPE_MALFORMED", "Cannot read compact JWS: expected 3 parts");
  }
  return { protected: parts[0], payload: parts[1], signature: parts[2] };
}
