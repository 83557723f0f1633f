/**
 * A verified report's bytes as the report to store: read as UTF-8 JSON, checked against its
 * envelope's computer id and sequence and the report's shape (`protocol/report.ts`), its digest
 * taken (a resend has the same) and the level it asks for read. One place for reports sent alone
 * (`report_ingest.ts`) and inside a relay's bundle (`bundle_ingest.ts`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { checkReport, type Report } from "../protocol/report.ts";
import { searchTextOf } from "../store/report_search_text.ts";
import type { NewReport } from "../store/store.ts";
import { IngestError } from "./ingest_error.ts";

/** What the envelope, not the report, says of a report to store. */
export type ReportEnvelopeFields = Pick<
  NewReport,
  "computerId" | "seq" | "receivedAt" | "encrypted" | "kid"
>;

/**
 * The report to store from its verified bytes.
 *
 * @throws {IngestError} 400 `ERR_REPORT_INVALID` when the bytes are not a JSON report naming the
 * envelope's computer id and sequence.
 *
 * @example
 * ```ts
 * import { reportToStore } from "./report_to_store.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({
 *   computerId: 1, seq: 0, createdAt: "2025-01-01T00:00:00Z", properties: {}, custom: {},
 *   relevance: [], actionStatuses: [], analyses: [],
 * }));
 * const report = reportToStore(bytes, {
 *   computerId: 1, seq: 0, receivedAt: Date.now(), encrypted: false, kid: null,
 * });
 * console.log(report.digest.length); // 64
 * ```
 */
export function reportToStore(bytes: Uint8Array, envelope: ReportEnvelopeFields): NewReport {
  let text: string;
  let report: Report;
  try {
    text = decodeUtf8(bytes);
    report = JSON.parse(text);
  } catch {
    throw new IngestError(400, "ERR_REPORT_INVALID", "Cannot read report: it is not JSON");
  }
  const problem = checkReport(report, envelope.computerId, envelope.seq);
  if (problem) throw new IngestError(400, "ERR_REPORT_INVALID", `Cannot accept report: ${problem}`);
  const level = report.properties.encryption_level;
  return {
    ...envelope,
    body: text,
    // node:crypto: synchronous, where a Web Crypto digest is a round trip costing more than the hash.
    digest: createHash("sha256").update(bytes).digest("hex"),
    encryptionLevel: typeof level === "string" ? level : null,
    // Read here, where the report is already parsed, not again by the store's writer thread.
    searchText: searchTextOf(report),
  };
}
