/**
 * The report message: what a client sends for each report, a signed and sealed message
 * (`sealed_message.ts`) of `typ` "mle-report" whose claims are the computer id, the sequence
 * number and the server key id (null in clear).
 *
 * The inner JWS survives decryption, so a decrypting relay can bundle reports and the server still
 * checks each client's own signature; the outer signature (`sig`) lets the server and
 * authenticating relays check who sent a message before any RSA private-key operation and without
 * decrypting anything. A clear-text message is the inner JWS alone, in flattened form.
 *
 * @module
 */

import { KEY_ID_OR_NULL, NON_NEGATIVE_INTEGER, POSITIVE_INTEGER } from "./claim_rules.ts";
import type { FlattenedJws } from "./jws.ts";
import {
  type ParsedSignedMessage,
  type SealedMessage,
  type SenderClaims,
  signedMessageCodec,
  signedMessageKind,
} from "./sealed_message.ts";

/** What a report's signature binds it to: its sender and server key, and its sequence number. */
export interface ReportClaims extends SenderClaims {
  /** The sender's sequence number for this report: unique per computer id. */
  seq: number;
}

/** An encrypted upstream message: a flattened JWE plus the sender's outer signature. */
export type EncryptedMessage = SealedMessage;

/** A clear-text upstream message: the signed report itself. */
export type ClearMessage = FlattenedJws;

/** An upstream message as read from the wire, before any verification. */
export type ParsedMessage = ParsedSignedMessage<ReportClaims>;

/** The report's claims and words for the sealed-message codec. */
export const REPORT_MESSAGE = signedMessageKind<ReportClaims, "mle-report">({
  name: "report",
  // The JWE `cty` is "mle-report+jws".
  type: "mle-report",
  signatureInvalid: "Cannot accept message: sender signature is not valid",
  claimNames: "computer id, sequence or key id",
  claimsIn: "envelope",
  claims: { cid: POSITIVE_INTEGER, seq: NON_NEGATIVE_INTEGER, kid: KEY_ID_OR_NULL },
});

/** JWS `typ` of a signed report, and JWE `cty` of an encrypted one. */
export const { type: REPORT_TYPE, contentType: REPORT_CONTENT_TYPE } = REPORT_MESSAGE;

const reports = signedMessageCodec(REPORT_MESSAGE);

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
export const signReport = reports.sign;

/** Signs and seals report bytes to the server key the content key is wrapped to. */
export const sealReport = reports.seal;

/**
 * Reads an upstream message's shape and claims without verifying anything yet.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` or `ERR_DECRYPTION_FAILED` (header problems).
 */
export const readUpstreamMessage = reports.read;

/**
 * Verifies the sender's signature over the message as it travels: the outer signature of an
 * encrypted message, the report signature of a clear one. Needs no private key.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID`.
 */
export const verifyMessageSignature = reports.verify;

/**
 * Verifies a report's inner signature and that it names exactly the expected claims, then returns
 * the report bytes.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID` when the signature or any claim does not match.
 */
export const openSignedReport = reports.openInner;
