/**
 * The relay's HTTP app: the same paths as the server's (`protocol/paths.ts`), so that clients and
 * child relays need not know what their parent is. One sub-app per concern, sharing one context
 * (`relay/relay_app_context.ts`):
 *
 * - reports and child relays' batches (`relay/reports_app.ts`): checked, spooled, 202;
 * - registration and the key exchange (`relay/registration_app.ts`): to the parent at once;
 * - capabilities and the signed documents (`relay/documents_app.ts`): from the parent or the
 *   cache;
 * - uploads (`relay/upload_app.ts`), mounted at `/api/v1/uploads` when given.
 *
 * Here: the request ids and metrics of every answer, the 405 of a known path asked with another
 * method, the 404 of an unknown one, and the 500 (with a request id) of an unexpected failure.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { type Logger, silentLogger } from "../cli/log.ts";
import { answerMetrics } from "../ops/metrics.ts";
import { requestIdMiddleware } from "../ops/request_id_middleware.ts";
import { errorBody } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { currentRequestId, newRequestId } from "../protocol/request_id.ts";
import { isStorageFull, storageFullAnswer } from "../protocol/storage_full.ts";
import { createRelayDocumentsApp } from "./documents_app.ts";
import { ParentCapabilities } from "./parent_capabilities.ts";
import { Upstream } from "./upstream.ts";
import { createRelayRegistrationApp } from "./registration_app.ts";
import type { RelayAppContext, RelayAppOptions } from "./relay_app_context.ts";
import { createRelayReportsApp } from "./reports_app.ts";

export type { RelayAppOptions } from "./relay_app_context.ts";

/** The methods each known path takes, for the 405 of any other. */
const ALLOWED_METHODS: Record<string, string> = {
  [API.capabilities]: "GET, HEAD",
  [API.keyExchange]: "GET, HEAD",
  [API.masthead]: "GET, HEAD",
  [API.encryptionCertificate]: "GET, HEAD",
  [API.revocations]: "GET, HEAD",
  [API.settings]: "GET, HEAD",
  [API.rotationDirective]: "GET, HEAD",
  [API.register]: "POST",
  [API.reports]: "POST",
  [API.reportBatch]: "POST",
};

/**
 * Builds the relay's HTTP app.
 *
 * @throws {RangeError} When the parent URL is unusable.
 *
 * @example
 * ```ts ignore
 * import { createRelayApp } from "./app.ts";
 * const app = createRelayApp({ spool, forwarder, documents, parentUrl, acceptsEncryptedReports: true });
 * const response = await app.request("/api/v1/capabilities");
 * console.log((await response.json()).role); // "relay"
 * ```
 */
export function createRelayApp(options: RelayAppOptions): Hono {
  const upstream = Upstream.of(options.parentUrl);
  const context: RelayAppContext = {
    ...options,
    parentUrl: upstream,
    log: options.log ?? silentLogger,
    parentCapabilities: new ParentCapabilities(upstream),
  };
  const app = new Hono();
  // First: every log line about a request, its answer and its calls upstream name its id.
  app.use(requestIdMiddleware());
  if (options.registry) app.use(answerMetrics(options.registry));

  app.route("/", createRelayDocumentsApp(context));
  app.route("/", createRelayRegistrationApp(context));
  app.route("/", createRelayReportsApp(context));
  if (options.uploads) app.route(API.uploads, options.uploads);

  // A known path asked with another method: say which ones it takes.
  for (const [path, allow] of Object.entries(ALLOWED_METHODS)) {
    app.all(path, (c) =>
      c.json(
        errorBody("ERR_METHOD_NOT_ALLOWED", `Cannot ${c.req.method} ${path}: use ${allow}`),
        405,
        { allow },
      ));
  }
  app.notFound((c) =>
    c.json(errorBody("ERR_NOT_FOUND", "Cannot find this path: see the relay's API paths"), 404)
  );
  app.onError((error, c) => answerFailure(error, c, context.log));
  return app;
}

/** The answer to a request that threw: its own (413), a full disk's 503, or a 500 with an id. */
function answerFailure(error: Error, c: Context, log: Logger): Response {
  if (error instanceof HTTPException) return error.getResponse();
  if (isStorageFull(error)) {
    log.warn("disk full: request refused with 503", { method: c.req.method, path: c.req.path });
    const full = storageFullAnswer();
    return c.json(full.body, full.status, full.headers);
  }
  const requestId = currentRequestId() ?? newRequestId();
  log.error("unexpected failure", {
    requestId,
    method: c.req.method,
    path: c.req.path,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return c.json(
    errorBody(
      "ERR_INTERNAL",
      `Cannot handle the request: unexpected failure (request id ${requestId}); try again later`,
    ),
    500,
    { "x-request-id": requestId },
  );
}
