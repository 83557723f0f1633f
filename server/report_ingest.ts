/**
 * The server's path of an upstream report, in the order that keeps it cheap and safe:
 *
 * 1. parse the message's shape and claims (no keys touched);
 * 2. look up the sender by computer id: unknown or revoked senders stop here;
 * 3. verify the sender's signature over the message as it travelled;
 * 4. (encrypted) refuse an unknown key id without any RSA operation; get the content key from the
 *    memo, or unwrap it once (the only RSA private-key operation); decrypt;
 * 5. verify the inner report signature and that it names this computer id, sequence and key id;
 * 6. check the report's shape, then store it exactly once (a resend is recognised by its
 *    computer id and sequence number).
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import { decryptJwe } from "../envelope/jwe.ts";
import {
  openSignedReport,
  readUpstreamMessage,
  verifyMessageSignature,
} from "../envelope/report_message.ts";
import { checkReport, type Report } from "../protocol/report.ts";
import type { StoreOutcome } from "../store/store.ts";
import type { BatchWriter } from "./batch_writer.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import { IngestError } from "./ingest_error.ts";
import type { KeyRing } from "./key_ring.ts";

/** What ingest needs. */
export interface IngestContext {
  computers: ComputerDirectory;
  keys: KeyRing;
  writer: BatchWriter;
  /** Whether clear text from a computer whose level is required is refused. */
  isClearTextRefused: (computerId: number, lastKnownLevel: string | null) => Promise<boolean>;
  now: () => number;
}

/** A stored report's acknowledgement. */
export interface IngestResult {
  computerId: number;
  seq: number;
  encrypted: boolean;
  kid: string | null;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Verifies, decrypts and stores one upstream message.
 *
 * @throws {IngestError} For every refusal; decryption failures all give the same one.
 */
export async function ingestReport(
  body: Uint8Array,
  context: IngestContext,
): Promise<IngestResult> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch {
    throw new IngestError(400, "ERR_ENVELOPE_MALFORMED", "Cannot read report: body is not JSON");
  }
  let parsed;
  try {
    parsed = readUpstreamMessage(value);
  } catch (error) {
    throw fromMleError(error);
  }
  const { claims } = parsed;
  const sender = await context.computers.get(claims.cid);
  if (!sender) {
    throw new IngestError(
      403,
      "ERR_UNKNOWN_COMPUTER",
      `Cannot accept report: computer ${claims.cid} is not registered here; register again`,
    );
  }
  if (sender.record.replacedBy !== null) {
    throw new IngestError(
      403,
      "ERR_COMPUTER_REPLACED",
      `Cannot accept report: computer ${claims.cid} was replaced by computer ${sender.record.replacedBy} after a key rotation`,
    );
  }
  if (sender.record.removedAt !== null) {
    throw new IngestError(
      403,
      "ERR_UNKNOWN_COMPUTER",
      `Cannot accept report: computer ${claims.cid} was removed; register again`,
    );
  }
  if (sender.record.revokedAt !== null) {
    throw new IngestError(
      403,
      "ERR_COMPUTER_REVOKED",
      `Cannot accept report: computer ${claims.cid} was revoked; rotate the client's keys to register anew`,
    );
  }
  try {
    await verifyMessageSignature(sender.publicKey, parsed);
  } catch (error) {
    throw fromMleError(error);
  }

  let reportBytes: Uint8Array<ArrayBuffer>;
  if (parsed.kind === "encrypted") {
    const kid = parsed.header.kid;
    if (!context.keys.has(kid)) {
      throw new IngestError(
        400,
        "ERR_UNKNOWN_KEY_ID",
        `Cannot decrypt report: key ${kid} is not known here; fetch the current encryption certificate`,
      );
    }
    const contentKey = await context.keys.contentKey(claims.cid, kid, parsed.message.encrypted_key);
    let inner: Uint8Array<ArrayBuffer>;
    try {
      inner = await decryptJwe(parsed.message, contentKey);
    } catch (error) {
      throw fromMleError(error);
    }
    try {
      reportBytes = await openSignedReport(sender.publicKey, decoder.decode(inner), claims);
    } catch (error) {
      throw fromMleError(error);
    }
  } else {
    if (await context.isClearTextRefused(claims.cid, sender.record.encryptionLevel)) {
      throw new IngestError(
        403,
        "ERR_CLEAR_TEXT_REFUSED",
        "Cannot accept a clear-text report from a computer whose encryption level is required",
      );
    }
    try {
      reportBytes = decodeBase64Url(parsed.message.payload);
    } catch {
      throw new IngestError(400, "ERR_ENVELOPE_MALFORMED", "Cannot read report: bad payload");
    }
  }

  let reportText: string;
  let report: Report;
  try {
    reportText = decoder.decode(reportBytes);
    report = JSON.parse(reportText);
  } catch {
    throw new IngestError(400, "ERR_REPORT_INVALID", "Cannot read report: it is not JSON");
  }
  const problem = checkReport(report, claims.cid, claims.seq);
  if (problem) throw new IngestError(400, "ERR_REPORT_INVALID", `Cannot accept report: ${problem}`);

  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", reportBytes)).toHex();
  const level = report.properties.encryption_level;
  const outcome: StoreOutcome = await context.writer.write({
    computerId: claims.cid,
    seq: claims.seq,
    receivedAt: context.now(),
    encrypted: parsed.kind === "encrypted",
    kid: claims.kid,
    body: reportText,
    digest,
    encryptionLevel: typeof level === "string" ? level : null,
  });
  if (outcome === "duplicate") {
    throw new IngestError(
      409,
      "ERR_DUPLICATE_REPORT",
      `Report ${claims.seq} of computer ${claims.cid} is already stored; nothing to do`,
    );
  }
  if (outcome === "conflict") {
    throw new IngestError(
      409,
      "ERR_REPORT_CONFLICT",
      `Cannot store report: computer ${claims.cid} already sent a different report ${claims.seq}`,
    );
  }
  return {
    computerId: claims.cid,
    seq: claims.seq,
    encrypted: parsed.kind === "encrypted",
    kid: claims.kid,
  };
}

function fromMleError(error: unknown): IngestError {
  if (!(error instanceof MleError)) throw error;
  switch (error.code) {
    case "ERR_DECRYPTION_FAILED":
      return new IngestError(400, error.code, "Cannot decrypt envelope");
    case "ERR_SIGNATURE_INVALID":
      return new IngestError(403, error.code, error.message);
    default:
      return new IngestError(400, "ERR_ENVELOPE_MALFORMED", error.message);
  }
}
