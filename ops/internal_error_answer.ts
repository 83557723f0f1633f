/**
 * The answer of every app to a failure it did not expect: the cause goes to the log under a
 * request id, and the caller gets a 500 `ERR_INTERNAL` that names only that id (never the cause),
 * so that an operator can find the log line a user reports.
 *
 * @module
 */

import type { Context } from "hono";
import type { Logger } from "../cli/log.ts";
import { errorBody } from "../protocol/http_error.ts";
import { currentRequestId, newRequestId } from "../protocol/request_id.ts";

/**
 * Logs an unexpected failure and answers 500 with its request id: the request's own id when the
 * request-id middleware runs it (`request_id_middleware.ts`), else a new one.
 *
 * @param what The log message, e.g. `"upload request failed"`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { silentLogger } from "../cli/log.ts";
 * import { internalErrorAnswer } from "./internal_error_answer.ts";
 * const app = new Hono();
 * app.onError((error, c) => internalErrorAnswer(c, error, silentLogger, "request failed"));
 * app.get("/", () => {
 *   throw new Error("disk on fire");
 * });
 * console.log((await app.request("/")).status); // 500
 * ```
 */
export function internalErrorAnswer(
  c: Context,
  error: unknown,
  log: Logger,
  what: string,
): Response {
  const requestId = currentRequestId() ?? newRequestId();
  log.error(what, { requestId, path: c.req.path, cause: (error as Error).message });
  return c.json(errorBody("ERR_INTERNAL", `Internal error; request id ${requestId}`), 500);
}
