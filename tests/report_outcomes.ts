/**
 * Test support: where reports ended up — stored by the server (through the admin tool), answered
 * on the wire (stored, or a resend answered 409), still in a relay's spool or set aside in its
 * `rejected/` folder.
 *
 * @module
 */

import { Spool } from "../relay/spool.ts";
import { readUpstreamMessage } from "../envelope/report_message.ts";
import { API } from "../protocol/paths.ts";
import { decodeReportBatch, readReportBatchAnswer } from "../protocol/report_batch.ts";
import { eventually } from "./eventually.ts";
import type { TamperingProxy } from "./tampering_proxy.ts";
import { admin, type TestSite } from "./test_site.ts";

/** The part of a stored report the tests read. */
export interface StoredReportBody {
  computerId: number;
  custom: Record<string, string>;
  properties: Record<string, unknown>;
}

/** The reports the server stored for a computer, through the admin tool. */
export async function storedReports(
  site: TestSite,
  computerId: number,
): Promise<
  Array<{ seq: number; encrypted: boolean; kid: string | null; report: StoredReportBody }>
> {
  const result = await admin([
    "reports",
    "--computer",
    String(computerId),
    "--data-dir",
    site.serverDir,
    "--json",
  ], site.adminEnv);
  return JSON.parse(result.stdout);
}

/** Waits until the server stored at least `count` reports of a computer; returns them. */
export async function waitForStored(site: TestSite, computerId: number, count: number) {
  return await eventually(async () => {
    const reports = await storedReports(site, computerId);
    return reports.length >= count ? reports : undefined;
  }, `${count} stored report(s) of computer ${computerId}`);
}

/** How the server answered the reports that crossed a proxy, per `computerId:seq`. */
export interface ReportDeliveries {
  /** The reports it stored (answered 2xx), one entry per answer. */
  stored: string[];
  /** The resends it answered 409 `ERR_DUPLICATE_REPORT`, one entry per answer. */
  duplicates: string[];
  /** Any other answer, as `computerId:seq status code`. */
  other: string[];
}

/**
 * The server's answers to the reports sent through `proxy` (placed between a sender and the
 * server), alone (`POST /api/v1/reports`) or in batches (`POST /api/v1/reports/batch`, one
 * result per envelope): "stored once" is proven by what the server answered, not by counting
 * rows that its primary key keeps unique anyway.
 */
export function reportDeliveries(proxy: TamperingProxy): ReportDeliveries {
  const deliveries: ReportDeliveries = { stored: [], duplicates: [], other: [] };
  const record = (envelope: string, answer: { status: number; code: string | null } | null) => {
    const { claims } = readUpstreamMessage(JSON.parse(envelope));
    const key = `${claims.cid}:${claims.seq}`;
    if (answer && answer.status >= 200 && answer.status < 300) deliveries.stored.push(key);
    else if (answer?.status === 409 && answer.code === "ERR_DUPLICATE_REPORT") {
      deliveries.duplicates.push(key);
    } else deliveries.other.push(`${key} ${answer?.status ?? "unanswered"} ${answer?.code}`);
  };
  for (const request of proxy.passed) {
    if (request.method !== "POST") continue;
    const path = request.path.split("?")[0];
    const answer = request.answer;
    if (path === API.reports) {
      record(request.body, answer && { status: answer.status, code: answer.errorCode });
    } else if (path === API.reportBatch) {
      const envelopes = decodeReportBatch(request.bytes);
      const results = answer?.status === 200
        ? readReportBatchAnswer(answer.json, envelopes.length)
        : null;
      envelopes.forEach((envelope, i) => {
        const result = results?.[i];
        const whole = answer && { status: answer.status, code: answer.errorCode };
        record(
          new TextDecoder().decode(envelope),
          result ? { status: result.status, code: errorCodeIn(result.body) } : whole,
        );
      });
    }
  }
  return deliveries;
}

function errorCodeIn(body: unknown): string | null {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === "string" ? code : null;
}

/**
 * The reports waiting in a relay's spool, exactly as received, read from its data dir without
 * changing anything (the relay may be running).
 */
export async function spooledMessages(relayDir: string): Promise<Uint8Array[]> {
  return (await Spool.waitingIn(relayDir)).map((message) => message.bytes);
}

/** The names of the files a relay set aside in `rejected/` (refused for good, with reasons). */
export async function rejectedFiles(relayDir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(`${relayDir}/rejected`))).map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}
