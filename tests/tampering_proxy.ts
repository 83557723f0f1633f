/**
 * Test support: an on-path attacker at the HTTP level, or a compromised parent. A proxy on
 * 127.0.0.1 that forwards each request to its target and lets the test rewrite, replace or withhold
 * the answer (for example the unsigned capabilities answer, or an old document the site validly
 * signed), and records the requests that went on with their bodies, so that tests assert on what a
 * role really sent upstream.
 *
 * @module
 */

/** What the attacker sees of a request before deciding. */
export interface InterceptedRequest {
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
}

/** A request that reached the target. */
export interface PassedRequest {
  method: string;
  /** Path and query. */
  path: string;
  body: string;
  /** The body's bytes exactly as sent (a report batch is binary). */
  bytes: Uint8Array;
  /** What the target answered (before any tampering); null until it has. */
  answer: TargetAnswer | null;
}

/** The target's answer to a request that reached it. */
export interface TargetAnswer {
  status: number;
  /** The `error.code` of a JSON error body, else null. */
  errorCode: string | null;
  /** The `Retry-After` header, else null. */
  retryAfter: string | null;
  /** The answer's JSON body, else null. */
  json: unknown;
}

/**
 * The attacker's rule: answer with what `forward()` gets from the target, rewrite it, or answer
 * alone without forwarding (then the target never sees the request).
 */
export type Tamper = (
  request: InterceptedRequest,
  forward: () => Promise<Response>,
) => Promise<Response>;

// Hop-by-hop and framing headers are the proxy's own business, never copied.
const DROPPED_HEADERS = ["connection", "content-length", "content-encoding", "transfer-encoding"];

/**
 * A running tampering proxy in front of `http://127.0.0.1:targetPort`, on a free port or on
 * `options.port` (such as the masthead's server address, so that a client has no way around it).
 */
export class TamperingProxy {
  readonly port: number;
  /** The rule in force; null forwards everything untouched. */
  tamper: Tamper | null = null;
  /** Every request that reached the target, oldest first. */
  readonly passed: PassedRequest[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #documents = new Map<string, unknown>();
  #shutdown: Promise<void> | null = null;

  constructor(targetPort: number, options: { port?: number } = {}) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
      async (request) => {
        const url = new URL(request.url);
        const intercepted = { method: request.method, path: `${url.pathname}${url.search}` };
        const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
        const served = this.#documents.get(url.pathname);
        if (request.method === "GET" && served !== undefined) return jsonAnswer(200, served);
        const forward = async () => {
          const passed: PassedRequest = {
            ...intercepted,
            body: body ? new TextDecoder().decode(body) : "",
            bytes: body ?? new Uint8Array(),
            answer: null,
          };
          this.passed.push(passed);
          const headers = new Headers(request.headers);
          for (const name of [...DROPPED_HEADERS, "host"]) headers.delete(name);
          const answer = await fetch(`http://127.0.0.1:${targetPort}${intercepted.path}`, {
            method: request.method,
            headers,
            body,
          });
          const answerHeaders = new Headers(answer.headers);
          for (const name of DROPPED_HEADERS) answerHeaders.delete(name);
          const answerBody = await answer.arrayBuffer();
          const json = jsonIn(answerBody);
          passed.answer = {
            status: answer.status,
            errorCode: errorCodeOf(json),
            retryAfter: answer.headers.get("retry-after"),
            json,
          };
          return new Response(answerBody, {
            status: answer.status,
            headers: answerHeaders,
          });
        };
        return this.tamper ? await this.tamper(intercepted, forward) : await forward();
      },
    );
    this.port = this.#server.addr.port;
  }

  /** How many requests for `method path` (path without query) reached the target. */
  count(method: string, path: string): number {
    return this.#passedTo(method, path).length;
  }

  /** The bodies of the requests for `method path` (path without query) that reached the target. */
  bodiesOf(method: string, path: string): string[] {
    return this.#passedTo(method, path).map((request) => request.body);
  }

  /** The target's answers to the requests for `method path` (path without query), oldest first. */
  answersTo(method: string, path: string | RegExp): TargetAnswer[] {
    return this.passed.filter((request) =>
      request.method === method && request.answer !== null &&
      (typeof path === "string"
        ? request.path.split("?")[0] === path
        : path.test(request.path.split("?")[0]))
    ).map((request) => request.answer!);
  }

  /** From now on, answers GET `path` with 200 and `document` instead of asking the target. */
  serve(path: string, document: unknown): void {
    this.#documents.set(path, document);
  }

  #passedTo(method: string, path: string): PassedRequest[] {
    return this.passed.filter((request) =>
      request.method === method && request.path.split("?")[0] === path
    );
  }

  /** Stops the proxy; closing again changes nothing. */
  async close(): Promise<void> {
    this.#shutdown ??= this.#server.shutdown();
    await this.#shutdown;
  }

  /** Closes the proxy at the end of the scope that holds it (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function jsonIn(body: ArrayBuffer): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return null;
  }
}

function errorCodeOf(json: unknown): string | null {
  const code = (json as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === "string" ? code : null;
}

/** A JSON answer, as the attacker forges it. */
export function jsonAnswer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
