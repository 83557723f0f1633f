/**
 * The server's route for report batches from relays (`POST /api/v1/reports/batch`,
 * `protocol/report_batch.ts`): many client envelopes, untouched, in one request.
 *
 * The batch itself proves nothing and is trusted with nothing: the relay that sent it is not
 * authenticated, and need not be. Every envelope goes through exactly the path of a report sent
 * alone ({@linkcode ingestReport}: the sender's registration and signature, the content-key
 * source with its budgets, decryption, the claims, the report's shape) and is stored once; a batch
 * only saves the relay requests, and lets the writer commit the envelopes in the same transaction.
 * The answer carries, for each envelope, the status and body its own request would have drawn, so
 * one forged or refused envelope never stands in the way of the others.
 *
 * @module
 */

import { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { MleError } from "../envelope/errors.ts";
import { errorBody } from "../protocol/http_error.ts";
import { MAX_REPORT_BATCH_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import {
  decodeReportBatch,
  type ReportBatchAnswer,
  type ReportBatchResult,
} from "../protocol/report_batch.ts";
import { IngestError, readBodyWithin } from "./ingest_error.ts";
import { type IngestContext, ingestReport } from "./report_ingest.ts";

/**
 * Ingests each envelope of a batch as if it had come alone, many at once (so that their commits
 * share the writer's transaction), and answers each.
 *
 * @throws {IngestError} 400 `ERR_BATCH_MALFORMED` when the framing is not a batch; nothing is
 * ingested then.
 */
export async function ingestReportBatch(
  body: Uint8Array,
  context: IngestContext,
  log: Logger,
): Promise<ReportBatchAnswer> {
  let envelopes: Uint8Array[];
  try {
    envelopes = decodeReportBatch(body);
  } catch (error) {
    if (!(error instanceof MleError)) throw error;
    throw new IngestError(
      400,
      "ERR_BATCH_MALFORMED",
      `${error.message}; send each report alone to ${API.reports} instead`,
    );
  }
  // In waves, so that a batch's reports in flight (each with its ciphertext, plaintext and parsed
  // report) stay few whatever the batch size; a wave's commits still share the writer's
  // transaction, and the waves of concurrent batches share it with each other.
  const results: ReportBatchResult[] = [];
  for (let first = 0; first < envelopes.length; first += BATCH_INGEST_WAVE) {
    const wave = envelopes.slice(first, first + BATCH_INGEST_WAVE);
    results.push(...await Promise.all(wave.map((envelope) => answerOf(envelope, context, log))));
  }
  return { results };
}

/** How many envelopes of one batch are ingested at once. */
const BATCH_INGEST_WAVE = 32;

/** The status and body `POST /api/v1/reports` answers for one envelope; never throws. */
async function answerOf(
  envelope: Uint8Array,
  context: IngestContext,
  log: Logger,
): Promise<ReportBatchResult> {
  try {
    const result = await ingestReport(envelope, context);
    // As `POST /api/v1/reports` answers: 202 while the database is away and it waits in the
    // server's outage spool, else 200.
    if (result.spooled) {
      return {
        status: 202,
        body: { status: "spooled", computerId: result.computerId, seq: result.seq },
      };
    }
    log.debug("report stored", { cid: result.computerId, seq: result.seq, kid: result.kid });
    return {
      status: 200,
      body: { status: "stored", computerId: result.computerId, seq: result.seq },
    };
  } catch (error) {
    if (error instanceof IngestError) {
      if (error.code !== "ERR_DUPLICATE_REPORT") {
        log.info("report in a batch refused", { code: error.code });
      }
      return { status: error.status, body: errorBody(error.code, error.message) };
    }
    const requestId = crypto.randomUUID();
    log.error("report in a batch failed", { requestId, cause: (error as Error).message });
    return {
      status: 500,
      body: errorBody("ERR_INTERNAL", `Internal error; request id ${requestId}`),
    };
  }
}

/**
 * The batch route, mounted at `API.reportBatch`: bounded before reading (413 `ERR_TOO_LARGE`),
 * then answered 200 with one result per envelope.
 *
 * @example
 * ```ts ignore
 * app.route(API.reportBatch, createReportBatchApp(ingest, log));
 * ```
 */
export function createReportBatchApp(context: IngestContext, log: Logger): Hono {
  const app = new Hono();
  app.post(
    "/",
    async (c) => {
      const body = await readBodyWithin(
        c.req.raw,
        MAX_REPORT_BATCH_BYTES,
        "report batch",
        "send fewer reports at once",
      );
      return c.json(await ingestReportBatch(body, context, log));
    },
  );
  return app;
}
