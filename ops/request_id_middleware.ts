/**
 * The request-id middleware of the server's and relays' public apps: takes the caller's
 * `X-Request-Id` when well-formed (else makes one), runs the request with it as the current id
 * (so every log line about the request and every call to the parent made for it carry it), and
 * names it in the answer.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { acceptRequestId, REQUEST_ID_HEADER, runWithRequestId } from "../protocol/request_id.ts";

/**
 * Creates the middleware; mount it first, so that every other one runs within the request's id.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { requestIdMiddleware } from "./request_id_middleware.ts";
 * const app = new Hono();
 * app.use(requestIdMiddleware());
 * app.get("/", (c) => c.text("ok"));
 * const response = await app.request("/", { headers: { "x-request-id": "abc-1" } });
 * console.log(response.headers.get("x-request-id")); // "abc-1"
 * ```
 */
export function requestIdMiddleware(): MiddlewareHandler {
  return async (c, next) => {
    const requestId = acceptRequestId(c.req.header(REQUEST_ID_HEADER));
    await runWithRequestId(requestId, next);
    c.res.headers.set(REQUEST_ID_HEADER, requestId);
  };
}
