/**
 * The upstream message: what a client sends (reports, and later uploads' metadata), signed end to
 * end and, when encrypting, sealed to the server's key.
 *
 * Two signatures, two purposes:
 * - The inner JWS (`typ` "mle-report") signs the report itself and names the computer id, the
 *   sequence number and the server key id (or null in clear). It survives decryption, so a
 *   decrypting relay can bundle reports and the server still checks each client's own signature.
 *   Because it names the key id and computer id, nobody can re-wrap another client's report as theirs.
 * - The outer signature (`sig`, an extra member beside the JWE's, which JOSE libraries ignore) signs
 *   the JWE compact serialization. It lets the server and authenticating relays check who sent a
 *   message before any RSA private-key operation and without decrypting anything.
 *
 * A clear-text message is the inner JWS alone, in flattened form.
 *
 * @module
 */

import { MleError } from "./errors.ts";
import {
  type ContentKey,
  encryptJwe,
  type FlattenedJwe,
  type JweHeader,
  readJweHeader,
} from "./jwe.ts";
import {
  type FlattenedJws,
  fromCompactJws,
  type JwsHeader,
  readJwsHeader,
  signJws,
  toCompactJws,
  verifyJws,
} from "./jws.ts";
import { signSenderSignature, verifySenderSignature } from "./sender_signature.ts";

/** JWS `typ` of a signed report. */
export const REPORT_TYPE = "mle-report";
/** JWE `cty` of an encrypted report: its plaintext is a compact JWS. */
export const REPORT_CONTENT_TYPE = "mle-report+jws";

/** What a report's signature binds it to. */
export interface ReportClaims {
  /** The sender's computer id. */
  cid: number;
  /** The sender's sequence number for this report: unique per computer id. */
  seq: number;
  /** Key id of the server key it is encrypted to, or null when sent in clear. */
  kid: string | null;
}

/** An encrypted upstream message: a flattened JWE plus the sender's outer signature. */
export interface EncryptedMessage extends FlattenedJwe {
  sig: string;
}

/** A clear-text upstream message: the signed report itself. */
export type ClearMessage = FlattenedJws;

/** An upstream message as read from the wire, before any verification. */
export type ParsedMessage =
  | { kind: "encrypted"; message: EncryptedMessage; header: JweHeader; claims: ReportClaims }
  | { kind: "clear"; message: ClearMessage; header: JwsHeader; claims: ReportClaims };

const encoder = new TextEncoder();

/**
 * Signs report bytes as the inner JWS bound to `claims`.
 *
 * @example
 * ```ts
 * import { signReport, openSignedReport } from "./report_message.ts";
 * import { generateSigningKeyPair } from "./signature.ts";
 * const client = await generateSigningKeyPair();
 * const claims = { cid: 7, seq: 1, kid: null };
 * const jws = await signReport(client.privateKey, claims, new TextEncoder().encode("{}"));
 * console.log((await openSignedReport(client.publicKey, jws, claims)).length); // 2
 * ```
 */
export async function signReport(
  clientPrivateKey: CryptoKey,
  claims: ReportClaims,
  report: Uint8Array,
): Promise<FlattenedJws> {
  checkClaims(claims);
  return await signJws(
    clientPrivateKey,
    { typ: REPORT_TYPE, cid: claims.cid, seq: claims.seq, kid: claims.kid },
    report,
  );
}

/** Signs and seals report bytes to the server key the content key is wrapped to. */
export async function sealReport(
  contentKey: ContentKey,
  clientPrivateKey: CryptoKey,
  claims: { cid: number; seq: number },
  report: Uint8Array,
): Promise<EncryptedMessage> {
  const inner = await signReport(clientPrivateKey, { ...claims, kid: contentKey.kid }, report);
  const jwe = await encryptJwe(
    contentKey,
    { cty: REPORT_CONTENT_TYPE, cid: claims.cid, seq: claims.seq },
    encoder.encode(toCompactJws(inner)),
  );
  return { ...jwe, sig: await signSenderSignature(clientPrivateKey, jwe) };
}

/**
 * Reads an upstream message's shape and claims without verifying anything yet.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` or `ERR_DECRYPTION_FAILED` (header problems).
 */
export function readUpstreamMessage(value: unknown): ParsedMessage {
  if (typeof value === "object" && value !== null && "ciphertext" in value) {
    const { jwe, header } = readJweHeader(value);
    const sig = (value as { sig?: unknown }).sig;
    if (typeof sig !== "string") {
      throw new MleError(
        "ERR_ENVELOPE_MALFORMED",
        'Cannot read envelope: member "sig" must be a string',
      );
    }
    const claims = claimsOf(header.cid, header.seq, header.kid);
    if (header.cty !== REPORT_CONTENT_TYPE) {
      throw new MleError(
        "ERR_ENVELOPE_MALFORMED",
        `Cannot read envelope: expected cty "${REPORT_CONTENT_TYPE}"`,
      );
    }
    return { kind: "encrypted", message: { ...jwe, sig }, header, claims };
  }
  const { jws, header } = readJwsHeader(value);
  if (header.typ !== REPORT_TYPE) {
    throw new MleError(
      "ERR_ENVELOPE_MALFORMED",
      `Cannot read report: expected typ "${REPORT_TYPE}"`,
    );
  }
  if (header.kid !== null) {
    throw new MleError(
      "ERR_ENVELOPE_MALFORMED",
      "Cannot read report: a clear-text report names no key id",
    );
  }
  return { kind: "clear", message: jws, header, claims: claimsOf(header.cid, header.seq, null) };
}

/**
 * Verifies the sender's signature over the message as it travels: the outer signature of an
 * encrypted message, the report signature of a clear one. Needs no private key.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID`.
 */
export async function verifyMessageSignature(
  clientPublicKey: CryptoKey,
  parsed: ParsedMessage,
): Promise<void> {
  if (parsed.kind === "clear") {
    await verifyJws(clientPublicKey, parsed.message, REPORT_TYPE);
    return;
  }
  if (!(await verifySenderSignature(clientPublicKey, parsed.message, parsed.message.sig))) {
    throw signatureInvalid();
  }
}

/**
 * Verifies a report's inner signature and that it names exactly the expected claims, then returns
 * the report bytes.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID` when the signature or any claim does not match.
 */
export async function openSignedReport(
  clientPublicKey: CryptoKey,
  signed: FlattenedJws | string,
  expected: ReportClaims,
): Promise<Uint8Array<ArrayBuffer>> {
  const jws = typeof signed === "string" ? fromCompactJws(signed) : signed;
  const { header, payload } = await verifyJws(clientPublicKey, jws, REPORT_TYPE);
  if (header.cid !== expected.cid || header.seq !== expected.seq || header.kid !== expected.kid) {
    throw new MleError(
      "ERR_SIGNATURE_INVALID",
      "Cannot accept report: its signed computer id, sequence or key id differ from the envelope's",
    );
  }
  return payload;
}

function signatureInvalid(): MleError {
  return new MleError(
    "ERR_SIGNATURE_INVALID",
    "Cannot accept message: sender signature is not valid",
  );
}

function checkClaims(claims: ReportClaims): void {
  claimsOf(claims.cid, claims.seq, claims.kid);
}

function claimsOf(cid: unknown, seq: unknown, kid: unknown): ReportClaims {
  if (!Number.isSafeInteger(cid) || (cid as number) < 1) {
    throw new MleError(
      "ERR_ENVELOPE_MALFORMED",
      "Cannot read envelope: cid must be a positive integer",
    );
  }
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) {
    throw new MleError(
      "ERR_ENVELOPE_MALFORMED",
      "Cannot read envelope: seq must be a non-negative integer",
    );
  }
  return { cid: cid as number, seq: seq as number, kid: (kid ?? null) as string | null };
}
