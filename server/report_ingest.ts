/**
 * The server's path of an upstream report, in the order that keeps it cheap and safe:
 *
 * 1. parse the message's shape and claims (no keys touched);
 * 2. authenticate the sender (`sender_authentication.ts`): unknown or revoked senders stop here,
 *    then its signature over the message as it travelled is verified;
 * 4. (encrypted) refuse an unknown key id without any RSA operation; get the content key from
 *    `content_key_source.ts` (memo, sealed vault, or one unwrap within the computer's budget);
 *    decrypt;
 * 5. read the inner signed report and check that it names this computer id, sequence and key id
 *    (its signature is not verified a second time here: see {@linkcode innerReport});
 * 6. check the report's shape, then store it exactly once (a resend is recognised by its
 *    computer id and sequence number).
 *
 * Signature verification is a Web Crypto call, which Deno runs on a thread pool: with many
 * reports in flight that keeps the event loop (the server's one JavaScript thread) free for
 * parsing, HTTP and the rest. A report's AES-GCM open and the digest of the stored body are
 * node:crypto (synchronous, cheaper than a round trip for so small a job: `envelope/aes_gcm.ts`).
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { decryptJwe } from "../envelope/jwe.ts";
import {
  readUpstreamMessage,
  REPORT_MESSAGE,
  verifyMessageSignature,
} from "../envelope/report_message.ts";
import { readInnerMessageUnverified } from "../envelope/sealed_message.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import type { BatchWriter, WriteOutcome } from "./batch_writer.ts";
import { type ClearTextCheck, clearTextRefusal } from "./clear_text_policy.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import type { ContentKeySource } from "./content_key_source.ts";
import { IngestError, ingestErrorFrom, readJsonMessage } from "./ingest_error.ts";
import { reportToStore } from "./report_to_store.ts";
import type { KeyRing } from "./key_ring.ts";
import { authenticateSender } from "./sender_authentication.ts";

/** What ingest needs. */
export interface IngestContext {
  computers: ComputerDirectory;
  keys: KeyRing;
  /** Every content key comes from here: memo, vault, failure memo, budget, bounded RSA. */
  contentKeys: ContentKeySource;
  writer: BatchWriter;
  /** Whether clear text from a computer whose level is required is refused. */
  isClearTextRefused: ClearTextCheck;
  now: () => number;
}

/** A stored report's acknowledgement. */
export interface IngestResult {
  computerId: number;
  seq: number;
  encrypted: boolean;
  kid: string | null;
  /**
   * Kept in the server's local outage spool (durably) because the database is away; stored once
   * it returns.
   */
  spooled: boolean;
}

/**
 * Verifies, decrypts and stores one upstream message.
 *
 * @throws {IngestError} For every refusal; decryption failures all give the same one.
 */
export async function ingestReport(
  body: Uint8Array,
  context: IngestContext,
): Promise<IngestResult> {
  const parsed = readJsonMessage(body, "report", readUpstreamMessage, "envelope");
  const { claims } = parsed;
  const sender = await authenticateSender(
    context.computers,
    claims.cid,
    "report",
    (publicKey) => verifyMessageSignature(publicKey, parsed),
    claims.seq,
  );

  let reportBytes: Uint8Array<ArrayBuffer>;
  if (parsed.kind === "encrypted") {
    const kid = parsed.header.kid;
    context.contentKeys.requireLoaded(kid, "report");
    const contentKey = await context.contentKeys.contentKey({
      computerId: claims.cid,
      kid,
      encryptedKey: parsed.message.encrypted_key,
    });
    let inner: Uint8Array<ArrayBuffer>;
    try {
      inner = await decryptJwe(parsed.message, contentKey);
    } catch (error) {
      throw ingestErrorFrom(error, "envelope");
    }
    try {
      // The inner signature is not verified again: the outer one, verified before any key was
      // touched, covers the whole JWE as it travelled (header, wrapped key, IV, ciphertext, tag),
      // and with this server's private key those bytes determine the plaintext, so it already
      // binds the sender to this report. Verifying the inner one would prove the same thing twice
      // and cost a third of the encrypted path; it is there for decrypting relays' bundles, whose
      // every inner signature `bundle_ingest.ts` verifies.
      reportBytes = readInnerMessageUnverified(REPORT_MESSAGE, decodeUtf8(inner), claims);
    } catch (error) {
      if (error instanceof TypeError) {
        throw new IngestError(400, "ERR_ENVELOPE_MALFORMED", "Cannot read report: not UTF-8");
      }
      throw ingestErrorFrom(error, "envelope");
    }
  } else {
    if (context.isClearTextRefused(claims.cid, sender.record.encryptionLevel)) {
      throw clearTextRefusal("report");
    }
    try {
      reportBytes = decodeBase64Url(parsed.message.payload);
    } catch {
      throw new IngestError(400, "ERR_ENVELOPE_MALFORMED", "Cannot read report: bad payload");
    }
  }

  const outcome: WriteOutcome = await context.writer.write(reportToStore(reportBytes, {
    computerId: claims.cid,
    seq: claims.seq,
    receivedAt: context.now(),
    encrypted: parsed.kind === "encrypted",
    kid: claims.kid,
  }));
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
    spooled: outcome === "spooled",
  };
}
