/**
 * HTTP calls to a parent (server or relay) with a time limit and a bound on the answer's size,
 * shared by clients and relays. A network failure becomes {@linkcode ParentUnreachableError}.
 *
 * @module
 */

/** The parent did not answer (refused, reset, timed out). */
export class ParentUnreachableError extends Error {
  constructor(url: string, options?: ErrorOptions) {
    super(`Cannot reach ${url}`, options);
    this.name = "ParentUnreachableError";
  }
}

/** A parent's answer: status and JSON body (null when it was not JSON). */
export interface ParentAnswer {
  status: number;
  body: unknown;
}

/**
 * Sends a request and reads at most `maxBytes` of a JSON answer.
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
    response = await fetch(url, { ...init, signal });
  } catch (cause) {
    throw new ParentUnreachableError(url, { cause });
  }
  let text: string;
  try {
    text = await readBounded(response, init.maxBytes);
  } catch (cause) {
    throw new ParentUnreachableError(url, { cause });
  }
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return "";
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body.cancel();
    throw new RangeError(`answer of ${declared} bytes is over the ${maxBytes}-byte bound`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > maxBytes) throw new RangeError(`answer is over the ${maxBytes}-byte bound`);
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}
