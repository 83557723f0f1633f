/**
 * The bounds on a request body the relay's routes share: a declared length too large is refused
 * before any byte is read, and an undeclared one is counted while it is read. Also the parent's
 * `Retry-After`, passed on as it came when it is a usable one.
 *
 * @module
 */

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorBody } from "../protocol/http_error.ts";
import { readRequestBody } from "../protocol/read_bounded.ts";
import { parseRetryAfter } from "../protocol/upload_fetch.ts";

/** The headers of a JSON answer. */
export const JSON_HEADERS = { "content-type": "application/json" };

/**
 * Reads the body within `maxSize` (`readRequestBody`: a declared length over it refused unread, a
 * small body of a declared length in one call, any other counted while it is read).
 *
 * @throws {HTTPException} 413 `ERR_TOO_LARGE` when the body is larger.
 */
export async function readBody(
  c: Context,
  maxSize: number,
  what: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = await readRequestBody(c.req.raw, maxSize);
  if (bytes === null) tooLarge(maxSize, what);
  return bytes;
}

function tooLarge(maxSize: number, what: string): never {
  const status: ContentfulStatusCode = 413;
  throw new HTTPException(status, {
    res: new Response(
      JSON.stringify(
        errorBody(
          "ERR_TOO_LARGE",
          `Cannot accept ${what}: larger than ${maxSize} bytes`,
        ),
      ),
      { status, headers: JSON_HEADERS },
    ),
  });
}

/**
 * The parent's `Retry-After` to pass on, when it is one (a delay in seconds or a date).
 *
 * @example
 * ```ts
 * import { passedRetryAfter } from "./_request_body.ts";
 * console.log(passedRetryAfter({ retryAfter: "30" })); // { "retry-after": "30" }
 * ```
 */
export function passedRetryAfter(answer: { retryAfter?: string }): Record<string, string> {
  const value = answer.retryAfter?.trim();
  return value !== undefined && parseRetryAfter(value) !== null ? { "retry-after": value } : {};
}
