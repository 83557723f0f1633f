/**
 * Test support: an on-path attacker at the HTTP level. A proxy on 127.0.0.1 that forwards each
 * request to its target and lets the test rewrite, replace or withhold the answer (for example the
 * unsigned capabilities answer), and records which requests went on.
 *
 * @module
 */

/** What the attacker sees of a request before deciding. */
export interface InterceptedRequest {
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
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

/** A running tampering proxy in front of `http://127.0.0.1:targetPort`. */
export class TamperingProxy {
  readonly port: number;
  /** The rule in force; null forwards everything untouched. */
  tamper: Tamper | null = null;
  /** "METHOD /path" of every request that reached the target, in order. */
  readonly forwarded: string[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(targetPort: number) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        const url = new URL(request.url);
        const intercepted = { method: request.method, path: `${url.pathname}${url.search}` };
        const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
        const forward = async () => {
          this.forwarded.push(`${intercepted.method} ${url.pathname}`);
          const headers = new Headers(request.headers);
          for (const name of [...DROPPED_HEADERS, "host"]) headers.delete(name);
          const answer = await fetch(`http://127.0.0.1:${targetPort}${intercepted.path}`, {
            method: request.method,
            headers,
            body,
          });
          const answerHeaders = new Headers(answer.headers);
          for (const name of DROPPED_HEADERS) answerHeaders.delete(name);
          return new Response(await answer.arrayBuffer(), {
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
    return this.forwarded.filter((line) => line === `${method} ${path}`).length;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

/** A JSON answer, as the attacker forges it. */
export function jsonAnswer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
