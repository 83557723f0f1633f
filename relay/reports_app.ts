/**
 * The relay's reports, a sub-app of `createRelayApp` (`relay/app.ts`).
 *
 * - A report (`POST /api/v1/reports`) is checked for shape (and, when this relay knows the
 *   sender's public key, for its signature: a forgery gets 403), stored durably, acknowledged
 *   with 202 and forwarded later. A full spool, or a sender's full share of it, answers 503 with
 *   `Retry-After`: the sender keeps the report. Encrypted reports stay ciphertext on disk.
 * - A child relay's batch (`POST /api/v1/reports/batch`, announced in the capabilities): each
 *   envelope goes through the same checks as a report sent alone (revocation list, an
 *   authenticating relay's admitted clients and signature, the spool's bounds) and is answered as
 *   it would be alone; the accepted ones share the spool's group commit.
 * - Every relay refuses reports from computers on the revocation list; an authenticating one
 *   also those of computers it did not admit, and checks their signatures.
 *
 * @module
 */

import { Hono } from "hono";
import { MleError } from "../envelope/errors.ts";
import { readUpstreamMessage } from "../envelope/report_message.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { errorBody } from "../protocol/http_error.ts";
import { wireCodeOf, type WireErrorCode } from "../protocol/wire_error_codes.ts";
import { MAX_REPORT_BATCH_BYTES, MAX_REPORT_MESSAGE_BYTES } from "../protocol/limits.ts";
import {
  decodeReportBatch,
  type ReportBatchAnswer,
  type ReportBatchResult,
} from "../protocol/report_batch.ts";
import { API } from "../protocol/paths.ts";
import { JSON_HEADERS, readBody } from "./_request_body.ts";
import { type RelayAppContext, remoteAddress } from "./relay_app_context.ts";
import { refuseForgery } from "./sender_keys.ts";
import { SpoolFullError } from "./spool.ts";

/** What a sender told that the spool is full waits before trying again. */
export const SPOOL_FULL_RETRY_AFTER_SECONDS = 60;

/** A report's answer, with the headers it carries (`Retry-After` of a full spool). */
type ReportAnswer = ReportBatchResult & { headers?: Record<string, string> };

/**
 * Creates the relay's report routes (full paths: mount at `/`).
 *
 * @example
 * ```ts ignore
 * app.route("/", createRelayReportsApp(context));
 * ```
 */
export function createRelayReportsApp(context: RelayAppContext): Hono {
  const { spool, forwarder, authenticator, revocations, refusals, log } = context;

  /**
   * What this relay answers one report: checked, spooled durably, 202; or a refusal. The one
   * path of a report sent alone and of each envelope of a child relay's batch.
   */
  const acceptReport = async (bytes: Uint8Array, source: string | null): Promise<ReportAnswer> => {
    let value: unknown;
    try {
      value = JSON.parse(decodeUtf8(bytes));
    } catch {
      return refused(400, "ERR_ENVELOPE_MALFORMED", "Cannot read report: body is not UTF-8 JSON");
    }
    let parsed;
    try {
      parsed = readUpstreamMessage(value);
    } catch (error) {
      if (!(error instanceof MleError)) throw error;
      // A header failure is deliberately opaque (RFC 7516 §11.5): say no more than the code.
      const message = error.code === "ERR_DECRYPTION_FAILED"
        ? "Cannot read envelope header"
        : error.message;
      return refused(400, wireCodeOf(error.code), message);
    }
    // Who sent it comes before what it is: a refused sender learns nothing else.
    const refusal = authenticator
      ? await authenticator.checkReport(parsed, source)
      : revocations?.refusalFor(parsed.claims.cid) ?? null;
    if (refusal) return { status: refusal.status, body: refusal.body };
    // An authenticating relay checked the signature already; others check what they know.
    const forgery = authenticator
      ? null
      : await refuseForgery(context.senderKeys, { what: "report", message: parsed });
    if (forgery) {
      log.warn("report refused: sender signature not valid", { cid: parsed.claims.cid });
      return { status: forgery.status, body: forgery.body };
    }
    // The parent refused this sender for good lately: its own answer, now, not a 202 in vain.
    const upstream = refusals?.refusalFor(parsed.claims.cid);
    if (upstream) return { status: upstream.status, body: upstream.body };
    if (parsed.kind === "encrypted" && !context.acceptsEncryptedReports) {
      return refused(
        415,
        "ERR_ENCRYPTION_NOT_SUPPORTED",
        "This relay does not accept encrypted reports; send through another relay, or " +
          "(encryption level optional) send in clear text",
      );
    }
    // The exact bytes received: a signature covers them, and re-serializing could alter them.
    let id;
    try {
      id = await spool.put(bytes, parsed.claims.cid);
    } catch (error) {
      const answer = spoolRefusal(error);
      log.warn("spool full; report refused for now", { cid: parsed.claims.cid, of: answer.of });
      return answer;
    }
    forwarder.wake();
    log.debug("report spooled", {
      id,
      cid: parsed.claims.cid,
      seq: parsed.claims.seq,
      kind: parsed.kind,
    });
    return { status: 202, body: { status: "accepted" } };
  };

  const app = new Hono();
  app.post(API.reports, async (c) => {
    // A full spool refuses before reading anything: a flood costs this relay little.
    if (spool.isFull()) {
      await c.req.raw.body?.cancel().catch(() => {});
      return answer(spoolFull("spool"));
    }
    const bytes = await readBody(c, MAX_REPORT_MESSAGE_BYTES, "report");
    return answer(await acceptReport(bytes, remoteAddress(c)));
  });

  // A child relay's batch: each envelope checked and spooled as if its client sent it here
  // (their puts share the spool's group commit), each answered as it would be alone.
  app.post(API.reportBatch, async (c) => {
    if (spool.isFull()) {
      await c.req.raw.body?.cancel().catch(() => {});
      return answer(spoolFull("spool"));
    }
    const bytes = await readBody(c, MAX_REPORT_BATCH_BYTES, "report batch");
    let envelopes: Uint8Array[];
    try {
      envelopes = decodeReportBatch(bytes);
    } catch (error) {
      if (!(error instanceof MleError)) throw error;
      return c.json(
        errorBody("ERR_BATCH_MALFORMED", `${error.message}; send each report alone instead`),
        400,
      );
    }
    const source = remoteAddress(c);
    const results = await Promise.all(
      envelopes.map(async (envelope) => {
        const { status, body } = await acceptReport(envelope, source);
        return { status, body };
      }),
    );
    return c.json({ results } satisfies ReportBatchAnswer);
  });
  return app;
}

/** A report's answer as a response. */
function answer(result: ReportAnswer): Response {
  return new Response(JSON.stringify(result.body), {
    status: result.status,
    headers: { ...JSON_HEADERS, ...result.headers },
  });
}

function refused(status: number, code: WireErrorCode, message: string): ReportBatchResult {
  return { status, body: errorBody(code, message) };
}

/**
 * The one mapping of a failed `spool.put` to the answer a sender gets (the place for a full
 * disk, too); anything unexpected is rethrown, to the 500 with a request id.
 */
function spoolRefusal(error: unknown): ReturnType<typeof spoolFull> {
  if (error instanceof SpoolFullError) return spoolFull(error.scope);
  throw error;
}

/** The answer to a report the spool has no room for: the sender keeps it and tries later. */
function spoolFull(scope: SpoolFullError["scope"]) {
  return {
    of: scope,
    status: 503,
    body: errorBody(
      "ERR_SPOOL_FULL",
      scope === "spool"
        ? "Cannot accept report now: this relay's spool is full while its parent catches up; " +
          `keep the report queued and retry in ${SPOOL_FULL_RETRY_AFTER_SECONDS} s`
        : "Cannot accept report now: this computer's reports fill its share of this relay's " +
          `spool; keep the report queued and retry in ${SPOOL_FULL_RETRY_AFTER_SECONDS} s`,
    ),
    headers: { "retry-after": String(SPOOL_FULL_RETRY_AFTER_SECONDS) },
  };
}
