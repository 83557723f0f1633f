/**
 * Test support: an HTTP POST from a chosen loopback source address (127.0.0.2, 127.3.4.5, …), so
 * that one test process can play many hosts, as an attacker with many addresses would. `fetch`
 * cannot choose its source address; `node:http` can (`localAddress`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { request } from "node:http";

/** What came back. */
export interface SourcedAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POSTs a JSON body to `url` from `sourceAddress`, on a connection of its own.
 *
 * @example
 * ```ts ignore
 * const answer = await postJsonFrom("127.0.0.9", "http://127.0.0.1:8080/api/v1/register", body);
 * ```
 */
export function postJsonFrom(
  sourceAddress: string,
  url: string,
  body: unknown,
  timeoutMs = 30_000,
): Promise<SourcedAnswer> {
  const payload = new TextEncoder().encode(JSON.stringify(body));
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = request({
      host: target.hostname,
      port: Number(target.port),
      path: target.pathname + target.search,
      method: "POST",
      localAddress: sourceAddress,
      agent: false,
      timeout: timeoutMs,
      headers: { "content-type": "application/json", "content-length": payload.length },
    }, (incoming) => {
      const chunks: Uint8Array[] = [];
      incoming.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      incoming.on("end", () => {
        resolve({
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          body: new TextDecoder().decode(Buffer.concat(chunks)),
        });
      });
      incoming.on("error", reject);
    });
    outgoing.on("timeout", () => outgoing.destroy(new Error(`POST ${url} timed out`)));
    outgoing.on("error", reject);
    outgoing.end(payload);
  });
}
