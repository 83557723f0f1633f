/**
 * The one way the server authenticates the sender of a report, a bundle or an upload, before any
 * key work: look the computer up (unknown senders stop here), refuse it if it is no longer active
 * (revoked, replaced, removed), then verify its signature over what it sent.
 *
 * @module
 */

import type { ComputerDirectory, KnownComputer } from "./computer_directory.ts";
import { inactiveReason, IngestError, ingestErrorFrom } from "./ingest_error.ts";

/** What is being sent, as refusals name it. */
export type SentThing = "report" | "bundle" | "upload";

/** What the envelope errors of each thing are called in the opaque refusals. */
const ENVELOPE_NAME: Record<SentThing, string> = {
  report: "envelope",
  bundle: "bundle",
  upload: "upload data",
};

/**
 * Returns the registered, active sender `computerId`, after `verify` (when given) accepted its
 * signature with the sender's public key. A report passes its sequence number `seq`: a replaced
 * computer's report made before its hand-over is still accepted (see `inactiveReason`).
 *
 * @throws {IngestError} 403 `ERR_UNKNOWN_COMPUTER`, `ERR_COMPUTER_REVOKED`,
 * `ERR_COMPUTER_REPLACED` or `ERR_SIGNATURE_INVALID`; 400 for a malformed envelope.
 * @example
 * ```ts ignore
 * const sender = await authenticateSender(computers, claims.cid, "report", (publicKey) =>
 *   verifyMessageSignature(publicKey, parsed));
 * ```
 */
export async function authenticateSender(
  computers: ComputerDirectory,
  computerId: number,
  what: SentThing,
  verify?: (publicKey: CryptoKey) => Promise<void>,
  seq?: number,
): Promise<KnownComputer> {
  const sender = await computers.get(computerId);
  if (!sender) {
    throw new IngestError(
      403,
      "ERR_UNKNOWN_COMPUTER",
      `Cannot accept ${what}: computer ${computerId} is not registered here; register again`,
    );
  }
  const inactive = inactiveReason(sender.record, seq);
  if (inactive) throw new IngestError(403, inactive.code, `Cannot accept ${what}: ${inactive.why}`);
  if (verify) {
    try {
      await verify(sender.publicKey);
    } catch (error) {
      throw ingestErrorFrom(error, ENVELOPE_NAME[what]);
    }
  }
  return sender;
}
