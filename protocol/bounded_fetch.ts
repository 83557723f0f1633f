/**
 * HTTP calls to a parent (server or relay) with a time limit and a bound on the answer's size,
 * shared by clients and relays. A network failure becomes {@linkcode ParentUnreachableError}.
 *
 * @module
 */

import { readBounded } from "./read_bounded.ts";
import { withRequestIdHeader } from "./request_id.ts";

/** The parent did not answer (refused, reset, timed out), or answered busy (5xx, 429). */
export class ParentUnreachableError extends Error {
  /** How long a busy parent asked the sender to wait (its `Retry-After`), else null. */
  readonly retryAfterMs: number | null;

  constructor(url: string, options?: ErrorOptions & { retryAfterMs?: number | null }) {
    super(`Cannot reach ${url}`, options);
    this.name = "ParentUnreachableError";
    this.retryAfterMs = options?.retryAfterMs ?? null;
  }
}

/** A parent's answer: status and JSON body (null when it was not JSON). */
export interface ParentAnswer {
  status: number;
  body: unknown;
  /** The parent's `Retry-After` as sent (unchecked; `parseRetryAfter` reads it), if any. */
  retryAfter?: string;
}

/**
 * Sends a request and reads at most `maxBytes` of a JSON answer. The request carries the current
 * request id (`protocol/request_id.ts`), or a new one.
 *
 * @throws {ParentUnreachableError} On network failure, timeout, or an answer over the bound.
 */
export async function fetchJson(
  url: string,
  init: RequestInit & { timeoutMs?: number; maxBytes: number },
): Promise<ParentAnswer> {
  const timeout = AbortSignal.timeout(init.timeoutMs ?? 15_000);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers: withRequestIdHeader(init.headers), signal });
  } catch (cause) {
    throw new ParentUnreachableError(url, { cause });
  }
  let text: string;
  try {
    text = await readAnswer(response, init.maxBytes);
  } catch (cause) {
    throw new ParentUnreachableError(url, { cause });
  }
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const retryAfter = response.headers.get("retry-after");
  return retryAfter === null
    ? { status: response.status, body }
    : { status: response.status, body, retryAfter };
}

/**
 * Posts `body` as JSON and reads at most `maxBytes` of a JSON answer, as {@linkcode fetchJson}
 * does.
 *
 * @example
 * ```ts ignore
 * const answer = await postJson(`${parent}${API.register}`, registration, 64 * 1024);
 * ```
 *
 * @throws {ParentUnreachableError} On network failure, timeout, or an answer over the bound.
 */
export async function postJson(
  url: string,
  body: unknown,
  maxBytes: number,
): Promise<ParentAnswer> {
  return await fetchJson(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    maxBytes,
  });
}

async function readAnswer(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new RangeError(`answer of ${declared} bytes is over the ${maxBytes}-byte bound`);
  }
  const bytes = await readBounded(response.body, maxBytes);
  if (bytes === null) throw new RangeError(`answer is over the ${maxBytes}-byte bound`);
  return new TextDecoder().decode(bytes);
}
