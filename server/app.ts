/**
 * The server's HTTP app, built by a factory so tests drive it in-process with `app.request()`.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { answerMetrics, type Registry } from "../ops/metrics.ts";
import { internalErrorAnswer } from "../ops/internal_error_answer.ts";
import { requestIdMiddleware } from "../ops/request_id_middleware.ts";
import type { Capabilities } from "../protocol/capabilities.ts";
import { errorBody } from "../protocol/http_error.ts";
import type { WireErrorCode } from "../protocol/wire_error_codes.ts";
import { MAX_REGISTRATION_BYTES, MAX_REPORT_MESSAGE_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { isStorageFull, storageFullAnswer } from "../protocol/storage_full.ts";
import { RELAY_AUTH_HEADER } from "../protocol/relay_request.ts";
import { VERSION } from "../protocol/version.ts";
import { isDatabaseUnavailable } from "../store/database_unavailable.ts";
import type { Store } from "../store/store.ts";
import { MAX_BUNDLE_MESSAGE_BYTES } from "../protocol/report_bundle.ts";
import { BundleIngest } from "./bundle_ingest.ts";
import { type DatabaseOutageSpool, databaseUnavailableError } from "./database_outage_spool.ts";
import { inactiveReason, IngestError, readBodyWithin } from "./ingest_error.ts";
import { type IngestContext, ingestReport } from "./report_ingest.ts";
import { registerClient } from "./registration.ts";
import { createReportBatchApp } from "./report_batch_ingest.ts";
import { authenticateRelayAsker } from "./relay_asker.ts";
import { createRelayRecordApp } from "./relay_record_route.ts";
import { RotationDirectives } from "./rotation_directives.ts";

/** What the server app needs. */
export interface ServerAppOptions {
  store: Store;
  ingest: IngestContext;
  log: Logger;
  /** The signed masthead, as JSON text. */
  masthead: string | null;
  /**
   * Bundles from decrypting relays (default: one built from `store`, `ingest` and `log`); give it
   * to share its counters with the operations app.
   */
  bundles?: BundleIngest;
  /** The rotation directive served per computer (default: one read from `store`). */
  rotationDirectives?: RotationDirectives;
  /** The upload routes (`server/upload_app.ts`), mounted at `/api/v1/uploads` when given. */
  uploads?: Hono;
  /** While it says the database is away, registration is refused at once (503). */
  outageSpool?: DatabaseOutageSpool;
  /** Where the answers are counted and timed (`ops/metrics.ts`), when given. */
  registry?: Registry;
}

/**
 * Creates the server's Hono app.
 *
 * @example
 * ```ts ignore
 * const app = createServerApp({ store, ingest, log, masthead });
 * Deno.serve({ port: 52311 }, app.fetch);
 * ```
 */
export function createServerApp(options: ServerAppOptions): Hono {
  const { store, ingest, log } = options;
  const bundles = options.bundles ?? new BundleIngest({ store, ingest, log });
  const rotationDirectives = options.rotationDirectives ?? new RotationDirectives(store);
  const app = new Hono();
  // First: every log line about a request, and its answer, name the request's id.
  app.use(requestIdMiddleware());
  if (options.registry) app.use(answerMetrics(options.registry));

  app.onError((error, c) => {
    if (error instanceof IngestError) {
      return c.json(errorBody(error.code, error.message), error.status, error.headers);
    }
    if (isDatabaseUnavailable(error)) {
      // What needs the database waits for it; the sender is told when to retry.
      options.outageSpool?.markUnavailable(error);
      const refusal = databaseUnavailableError();
      return c.json(errorBody(refusal.code, refusal.message), refusal.status, refusal.headers);
    }
    if (isStorageFull(error)) {
      log.warn("disk full: request refused with 503", { path: c.req.path });
      const full = storageFullAnswer();
      return c.json(full.body, full.status, full.headers);
    }
    return internalErrorAnswer(c, error, log, "request failed");
  });
  app.notFound((c) => c.json(errorBody("ERR_NOT_FOUND", `No such path: ${c.req.path}`), 404));

  app.get(API.capabilities, (c) =>
    c.json(
      {
        role: "server",
        acceptsEncryptedReports: true,
        authenticating: false,
        decrypting: true,
        acceptsReportBatches: true,
        version: VERSION,
      } satisfies Capabilities,
    ));

  // The counters are not here: they are served on the operations listener (`ops_app.ts`).

  app.get(API.masthead, (c) =>
    documentOr404(
      c,
      options.masthead,
      "ERR_NO_MASTHEAD",
      "This server has no masthead; run mle-admin init-site",
    ));

  app.get(API.encryptionCertificate, (c) =>
    documentOr404(
      c,
      ingest.keys.certificate,
      "ERR_NO_CERTIFICATE",
      "Encryption was never enabled on this site",
    ));

  app.get(API.settings, async (c) => {
    const computer = Number(c.req.query("computer"));
    if (!Number.isSafeInteger(computer) || computer < 1) {
      return c.json(errorBody("ERR_BAD_REQUEST", "Expected ?computer=ID with a computer id"), 400);
    }
    const records = await store.listSettingsFor(computer);
    const documents = records.map((record) => JSON.parse(record.document));
    return c.json({ documents });
  });

  app.get(API.rotationDirective, async (c) => {
    const computer = Number(c.req.query("computer"));
    if (!Number.isSafeInteger(computer) || computer < 1) {
      return c.json(errorBody("ERR_BAD_REQUEST", "Expected ?computer=ID with a computer id"), 400);
    }
    return documentOr404(
      c,
      await rotationDirectives.documentFor(computer),
      "ERR_NO_ROTATION",
      `No key rotation is requested for computer ${computer}`,
    );
  });

  // Only what a relay needs to check a client's signatures, and only to an allowed relay.
  app.get(`${API.computers}/:id`, async (c) => {
    await authenticateRelayAsker(c.req.header(RELAY_AUTH_HEADER), "GET", c.req.path, {
      store,
      computers: ingest.computers,
      now: ingest.now,
    });
    const id = Number(c.req.param("id"));
    if (!Number.isSafeInteger(id) || id < 1) {
      return c.json(errorBody("ERR_BAD_REQUEST", "Expected a computer id"), 400);
    }
    const known = await ingest.computers.get(id);
    if (!known) {
      return c.json(errorBody("ERR_UNKNOWN_COMPUTER", `Computer ${id} is not registered`), 404);
    }
    return c.json({
      computerId: id,
      publicKey: known.record.publicKey,
      maySend: inactiveReason(known.record) === null,
    });
  });

  app.get(API.revocations, async (c) =>
    documentOr404(
      c,
      await store.getDocument("revocations"),
      "ERR_NO_REVOCATIONS",
      "No computer was ever revoked on this site",
    ));

  app.post(API.register, async (c) => {
    // Costs nothing while the database is known to be away (no connection attempt per request).
    if (options.outageSpool?.unavailable) throw databaseUnavailableError();
    const body = await readBodyWithin(c.req.raw, MAX_REGISTRATION_BYTES, "registration");
    const result = await registerClient(body, {
      store,
      computers: ingest.computers,
      now: ingest.now,
    });
    if (result.created) log.info("computer registered", { cid: result.computerId });
    for (const link of result.linked) {
      log.info(`computer ${link.how}`, { old: link.oldComputerId, cid: result.computerId });
    }
    return c.json({ computerId: result.computerId });
  });

  // A decrypting relay's bundle: one envelope, many client-signed reports, one outcome each.
  app.post(API.bundles, async (c) => {
    const body = await readBodyWithin(c.req.raw, MAX_BUNDLE_MESSAGE_BYTES, "bundle");
    try {
      return c.json(await bundles.ingest(body));
    } catch (error) {
      if (error instanceof IngestError) log.info("bundle refused", { code: error.code });
      throw error;
    }
  });

  app.post(API.reports, async (c) => {
    const body = await readBodyWithin(c.req.raw, MAX_REPORT_MESSAGE_BYTES, "report");
    try {
      const result = await ingestReport(body, ingest);
      if (result.spooled) {
        // Durable on this server's disk; stored in the database once it returns.
        return c.json({ status: "spooled", computerId: result.computerId, seq: result.seq }, 202);
      }
      log.debug("report stored", { cid: result.computerId, seq: result.seq, kid: result.kid });
      return c.json({ status: "stored", computerId: result.computerId, seq: result.seq });
    } catch (error) {
      if (error instanceof IngestError && error.code !== "ERR_DUPLICATE_REPORT") {
        log.info("report refused", { code: error.code });
      }
      throw error;
    }
  });

  // A decrypting relay's record of the keys it holds, for `mle-admin encryption status`/`deploy`.
  app.route(
    API.relayRecord,
    createRelayRecordApp({ store, computers: ingest.computers, now: ingest.now, log }),
  );

  // Many envelopes from a relay, each ingested as if it came alone.
  app.route(API.reportBatch, createReportBatchApp(ingest, log));

  if (options.uploads) app.route(API.uploads, options.uploads);

  return app;
}

/** A JSON document as it is stored, or 404 with `code` and `message` when there is none. */
function documentOr404(
  c: Context,
  document: string | null,
  code: WireErrorCode,
  message: string,
): Response {
  if (!document) return c.json(errorBody(code, message), 404);
  return c.body(document, 200, { "content-type": "application/json" });
}
