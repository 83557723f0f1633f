/**
 * Test support: a parent on 127.0.0.1 that passes every request on to the real one, except the
 * paths a test tells it to answer itself: the position of a compromised parent, or of anyone on
 * the wire, replaying old documents that the site validly signed. It keeps the bodies of the
 * requests it passed on, so that tests assert on what a role really sent upstream.
 *
 * @module
 */

/** A request the parent passed on. */
export interface PassedRequest {
  method: string;
  /** Path and query. */
  path: string;
  body: string;
}

/** A running tampering parent. */
export class TamperingParent {
  readonly port: number;
  /** Every request passed on to the real parent, oldest first. */
  readonly passed: PassedRequest[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #answers = new Map<string, unknown>();

  /** Listens on a free port and passes requests on to the parent at `targetPort`. */
  constructor(targetPort: number) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        const url = new URL(request.url);
        if (this.#answers.has(url.pathname)) {
          await request.body?.cancel();
          return Response.json(this.#answers.get(url.pathname));
        }
        const body = request.body ? await request.text() : "";
        this.passed.push({ method: request.method, path: url.pathname + url.search, body });
        const answer = await fetch(`http://127.0.0.1:${targetPort}${url.pathname}${url.search}`, {
          method: request.method,
          headers: request.headers,
          body: request.body ? body : undefined,
          redirect: "manual",
        });
        return new Response(await answer.arrayBuffer(), {
          status: answer.status,
          headers: answer.headers,
        });
      },
    );
    this.port = this.#server.addr.port;
  }

  /** From now on, answers GET `path` with 200 and `document` instead of asking the parent. */
  serve(path: string, document: unknown): void {
    this.#answers.set(path, document);
  }

  /** The bodies of the requests passed on with this method and path. */
  bodiesOf(method: string, path: string): string[] {
    return this.passed.filter((r) => r.method === method && r.path === path).map((r) => r.body);
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
