/**
 * Request ids: the `X-Request-Id` that follows one request from the client through its relays to
 * the server. Each server and relay takes a well-formed incoming id (or makes one), names it in
 * every log line about the request and in its answer, and passes it on in the calls it makes to
 * its parent for that request. The id is carried by the asynchronous context
 * (`AsyncLocalStorage`), so neither the logger nor the fetch helpers need it passed by hand.
 *
 * An incoming id is a claim of whoever sent it: it is bounded and made of safe characters only,
 * so that it can be written to a log line or a header as it is, and anything else is replaced.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

/** The header that carries a request id, both ways. */
export const REQUEST_ID_HEADER = "x-request-id";

/** Longest request id accepted from a peer. */
export const MAX_REQUEST_ID_LENGTH = 64;

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

const context = new AsyncLocalStorage<string>();

/**
 * Whether a peer's request id may be used as it is: 1 to 64 letters, digits, `.`, `_`, `:` or `-`.
 *
 * @example
 * ```ts
 * import { isWellFormedRequestId } from "./request_id.ts";
 * console.log(isWellFormedRequestId("3f1c-client")); // true
 * console.log(isWellFormedRequestId("a b\nforged=1")); // false
 * ```
 */
export function isWellFormedRequestId(value: string | null | undefined): value is string {
  return typeof value === "string" && REQUEST_ID_PATTERN.test(value);
}

/** A new random request id (a UUID). */
export function newRequestId(): string {
  return crypto.randomUUID();
}

/**
 * The id to use for an incoming request: the peer's when well-formed, else a new one.
 *
 * @example
 * ```ts
 * import { acceptRequestId } from "./request_id.ts";
 * console.log(acceptRequestId("abc-1")); // "abc-1"
 * console.log(acceptRequestId("x".repeat(65)).length); // 36 (a new UUID)
 * ```
 */
export function acceptRequestId(incoming: string | null | undefined): string {
  return isWellFormedRequestId(incoming) ? incoming : newRequestId();
}

/**
 * Runs `work` with `requestId` as the current request id of everything it awaits.
 *
 * @example
 * ```ts
 * import { currentRequestId, runWithRequestId } from "./request_id.ts";
 * await runWithRequestId("r-1", async () => {
 *   await Promise.resolve();
 *   console.log(currentRequestId()); // "r-1"
 * });
 * ```
 */
export function runWithRequestId<T>(requestId: string, work: () => T): T {
  return context.run(requestId, work);
}

/** The request id of the request being handled, if any. */
export function currentRequestId(): string | undefined {
  return context.getStore();
}

/**
 * The headers of a call to a parent with the current request id added (or a new one, when the
 * call is not made for a request), unless they name one already.
 *
 * @example
 * ```ts
 * import { withRequestIdHeader } from "./request_id.ts";
 * const headers = withRequestIdHeader({ "content-type": "application/json" });
 * console.log(headers.has("x-request-id")); // true
 * ```
 */
export function withRequestIdHeader(init: HeadersInit | undefined): Headers {
  const headers = new Headers(init);
  if (!headers.has(REQUEST_ID_HEADER)) {
    headers.set(REQUEST_ID_HEADER, currentRequestId() ?? newRequestId());
  }
  return headers;
}
