/**
 * The bounds on a request body the relay's routes share: a declared length too large is refused
 * before any byte is read, and an undeclared one is counted while it is read. Also the parent's
 * `Retry-After`, passed on as it came when it is a usable one.
 *
 * @module
 */

import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorBody } from "../protocol/http_error.ts";
import { initialReadBytes, readBounded } from "../protocol/read_bounded.ts";
import { parseRetryAfter } from "../protocol/upload_fetch.ts";

/** The headers of a JSON answer. */
export const JSON_HEADERS = { "content-type": "application/json" };

/**
 * Refuses a body whose declared length is too large before reading any of it, and counts the
 * bytes of one without a declared length (hono's `bodyLimit`).
 */
export function limitBody(maxSize: number, what: string): ReturnType<typeof bodyLimit> {
  return bodyLimit({ maxSize, onError: () => tooLarge(maxSize, what) });
}

/**
 * Reads the body, never holding more than `maxSize` + 1 bytes: `bodyLimit` trusts a declared
 * length, and a declared length can lie. A small declared length sizes the buffer exactly.
 *
 * @throws {HTTPException} 413 `ERR_TOO_LARGE` when the body is larger.
 */
export async function readBody(
  c: Context,
  maxSize: number,
  what: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const expected = initialReadBytes(c.req.header("content-length"), maxSize);
  const bytes = await readBounded(c.req.raw.body, maxSize, expected);
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
