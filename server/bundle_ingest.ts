/**
 * The server's path of a report bundle from a decrypting top-level relay
 * (`protocol/report_bundle.ts`), in the order that keeps it cheap and safe:
 *
 * 1. parse the bundle's shape and claims (no keys touched);
 * 2. authenticate the relay (`sender_authentication.ts`): unknown, revoked, replaced or removed
 *    senders stop here, then its signature over the bundle as it travelled is verified;
 * 4. check that the administrator allowed this computer to send bundles
 *    (`mle-admin relays allow ID`, recorded in the store): a plain client cannot send one;
 * 5. refuse an unknown key id without any RSA operation; take the content key from
 *    `content_key_source.ts` (memo, vault, or one unwrap within the relay's budget); decrypt;
 * 6. unpack, bounded (no decompression bombs), exactly as many reports as the header says;
 * 7. for every report, as if its client had sent it: the client must be registered and active,
 *    its own signature must verify, the claims it signed (computer id, sequence number, server key
 *    id) must name a key of this site, and the report's shape must match; then store it once
 *    (a resend is recognised by computer id and sequence number).
 *
 * The answer carries one outcome per report, so a tampered report is refused while the others in
 * the same bundle are stored.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { MleError } from "../envelope/errors.ts";
import { decryptJwe } from "../envelope/jwe.ts";
import { readJwsHeader } from "../envelope/jws.ts";
import { openSignedReport, REPORT_TYPE } from "../envelope/report_message.ts";
import {
  type BundleEntry,
  decodeBundle,
  jwsOfEntry,
  readBundleMessage,
  verifyBundleSignature,
} from "../protocol/report_bundle.ts";
import type { NewReport, Store } from "../store/store.ts";
import { inactiveReason, IngestError, ingestErrorFrom, readJsonMessage } from "./ingest_error.ts";
import type { IngestContext } from "./report_ingest.ts";
import { reportToStore } from "./report_to_store.ts";
import { authenticateSender } from "./sender_authentication.ts";

/** The outcome of one report inside a bundle. */
export interface BundleReportOutcome {
  /** The computer id the report's signed header names (null when it could not be read). */
  cid: number | null;
  seq: number | null;
  status: "stored" | "duplicate" | "refused";
  /** Why it was refused: a stable code and a message. */
  code?: string;
  message?: string;
}

/** The answer to a bundle: its id and one outcome per report, in the bundle's order. */
export interface BundleAnswer {
  bundle: string;
  results: BundleReportOutcome[];
}

/** Counters for `GET /api/v1/metrics`. */
export interface BundleStats {
  /** Bundle envelopes decrypted and unpacked. */
  bundlesOpened: number;
  /** Reports found inside them. */
  reportsInBundles: number;
  /** Reports inside bundles that were refused (bad signature, unknown computer, …). */
  bundleReportsRefused: number;
}

/** What bundle ingest needs. */
export interface BundleIngestOptions {
  store: Store;
  ingest: IngestContext;
  log: Logger;
  /** How long the site's key ids are remembered, in milliseconds (default 2 s). */
  keyIdsTtlMs?: number;
}

/**
 * Opens bundles and stores the reports inside.
 *
 * @example
 * ```ts ignore
 * const bundles = new BundleIngest({ store, ingest, log });
 * const answer = await bundles.ingest(body);
 * console.log(answer.results.map((r) => r.status));
 * ```
 */
export class BundleIngest {
  readonly #store: Store;
  readonly #ingest: IngestContext;
  readonly #log: Logger;
  readonly #keyIdsTtlMs: number;
  readonly #stats: BundleStats = { bundlesOpened: 0, reportsInBundles: 0, bundleReportsRefused: 0 };
  #siteKids: { kids: Set<string>; at: number } | null = null;

  constructor(options: BundleIngestOptions) {
    this.#store = options.store;
    this.#ingest = options.ingest;
    this.#log = options.log;
    this.#keyIdsTtlMs = options.keyIdsTtlMs ?? 2_000;
  }

  /** Counters since start. */
  get stats(): BundleStats {
    return { ...this.#stats };
  }

  /**
   * Verifies, decrypts and unpacks one bundle, and stores its reports.
   *
   * @throws {IngestError} When the bundle as a whole is refused (nothing of it is stored then).
   */
  async ingest(body: Uint8Array): Promise<BundleAnswer> {
    const parsed = readJsonMessage(body, "bundle", readBundleMessage);
    const { claims, header, message } = parsed;
    await authenticateSender(
      this.#ingest.computers,
      claims.cid,
      "bundle",
      (publicKey) => verifyBundleSignature(publicKey, message),
    );
    if (!(await this.#store.isBundleSender(claims.cid))) {
      throw new IngestError(
        403,
        "ERR_RELAY_NOT_ALLOWED",
        `Cannot accept bundle: computer ${claims.cid} is not allowed to send bundles; ` +
          `allow the relay with: mle-admin relays allow ${claims.cid} --site-key FILE`,
      );
    }
    const kid = header.kid;
    this.#ingest.contentKeys.requireLoaded(kid, "bundle");
    const contentKey = await this.#ingest.contentKeys.contentKey({
      computerId: claims.cid,
      kid,
      encryptedKey: message.encrypted_key,
    });
    let plaintext: Uint8Array<ArrayBuffer>;
    try {
      plaintext = await decryptJwe(message, contentKey);
    } catch (error) {
      throw ingestErrorFrom(error, "bundle");
    }
    let entries: BundleEntry[];
    try {
      entries = await decodeBundle(plaintext, claims.n);
    } catch (error) {
      throw ingestErrorFrom(error, "bundle");
    }
    this.#stats.bundlesOpened += 1;
    this.#stats.reportsInBundles += entries.length;

    const siteKids = await this.#siteKeyIds();
    const results = await Promise.all(entries.map((entry) => this.#storeEntry(entry, siteKids)));
    const refused = results.filter((result) => result.status === "refused").length;
    this.#stats.bundleReportsRefused += refused;
    this.#log.info("bundle opened", {
      relay: claims.cid,
      bundle: claims.bid,
      reports: entries.length,
      stored: results.filter((result) => result.status === "stored").length,
      refused,
    });
    return { bundle: claims.bid, results };
  }

  /** Verifies one client's report from a bundle and stores it; never throws for the report. */
  async #storeEntry(entry: BundleEntry, siteKids: Set<string>): Promise<BundleReportOutcome> {
    const jws = jwsOfEntry(entry);
    let header;
    try {
      ({ header } = readJwsHeader(jws));
    } catch {
      return refused(null, null, "ERR_ENVELOPE_MALFORMED", "Cannot read report: bad header");
    }
    const cid = Number.isSafeInteger(header.cid) && (header.cid as number) > 0
      ? header.cid as number
      : null;
    const seq = Number.isSafeInteger(header.seq) && (header.seq as number) >= 0
      ? header.seq as number
      : null;
    if (header.typ !== REPORT_TYPE || cid === null || seq === null) {
      return refused(cid, seq, "ERR_ENVELOPE_MALFORMED", "Cannot read report: not a signed report");
    }
    const kid = header.kid;
    if (typeof kid !== "string" || !siteKids.has(kid)) {
      // A bundle carries only what clients encrypted to this site's keys: a clear-text report
      // (kid null) relayed inside a bundle would otherwise be stored as encrypted.
      return refused(
        cid,
        seq,
        "ERR_UNKNOWN_KEY_ID",
        "Cannot accept report from a bundle: its signed key id is not a key of this site",
      );
    }
    const client = await this.#ingest.computers.get(cid);
    if (!client) {
      return refused(cid, seq, "ERR_UNKNOWN_COMPUTER", `Computer ${cid} is not registered here`);
    }
    const inactive = inactiveReason(client.record, seq);
    if (inactive) return refused(cid, seq, inactive.code, `Cannot accept report: ${inactive.why}`);
    let reportBytes: Uint8Array<ArrayBuffer>;
    try {
      reportBytes = await openSignedReport(client.publicKey, jws, { cid, seq, kid });
    } catch (error) {
      const code = error instanceof MleError ? error.code : "ERR_SIGNATURE_INVALID";
      return refused(
        cid,
        seq,
        code,
        `Cannot accept report: the client's signature does not verify`,
      );
    }
    let report: NewReport;
    try {
      report = reportToStore(reportBytes, {
        computerId: cid,
        seq,
        receivedAt: this.#ingest.now(),
        encrypted: true,
        kid,
      });
    } catch (error) {
      const { code, message } = ingestErrorFrom(error, "report");
      return refused(cid, seq, code, message);
    }
    let outcome;
    try {
      outcome = await this.#ingest.writer.write(report);
    } catch (error) {
      this.#log.error("cannot store a report from a bundle", {
        cid,
        seq,
        cause: (error as Error).message,
      });
      throw error;
    }
    if (outcome === "conflict") {
      return refused(
        cid,
        seq,
        "ERR_REPORT_CONFLICT",
        `Cannot store report: computer ${cid} already sent a different report ${seq}`,
      );
    }
    // Spooled while the database is away: acknowledged, and stored once it returns.
    return { cid, seq, status: outcome === "spooled" ? "stored" : outcome };
  }

  /** Key ids of this site's keys that are not retired, re-read every few seconds. */
  async #siteKeyIds(): Promise<Set<string>> {
    const now = Date.now();
    if (this.#siteKids && now - this.#siteKids.at < this.#keyIdsTtlMs) return this.#siteKids.kids;
    const kids = new Set(
      (await this.#store.listEncryptionKeys())
        .filter((key) => key.role !== "retired")
        .map((key) => key.kid),
    );
    this.#siteKids = { kids, at: now };
    return kids;
  }
}

function refused(
  cid: number | null,
  seq: number | null,
  code: string,
  message: string,
): BundleReportOutcome {
  return { cid, seq, status: "refused", code, message };
}
