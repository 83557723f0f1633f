/**
 * The operations listener of the server and of each relay (`--ops-listen`, 127.0.0.1 by default),
 * never the port clients reach: `GET /metrics` (Prometheus text), `GET /healthz` (200 while the
 * process runs) and `GET /readyz` (200 when ready to take work, else 503 with the reasons), plus
 * what the role adds (the server's JSON counters). What it answers costs no RSA operation and no
 * write beyond a readiness probe's.
 *
 * @module
 */

import { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { errorBody } from "../protocol/http_error.ts";
import { OPS_PATHS } from "../protocol/paths.ts";
import { internalErrorAnswer } from "./internal_error_answer.ts";
import type { Registry } from "./metrics.ts";

/** What an operations app serves. */
export interface OperationsAppOptions {
  registry: Registry;
  /** Why the process is not ready (empty: ready). Each reason is one short sentence. */
  notReadyReasons: () => Promise<string[]>;
  log: Logger;
  /** Adds the role's own routes (the server's JSON counters). */
  extend?: (app: Hono) => void;
}

/**
 * Creates the operations app.
 *
 * @example
 * ```ts
 * import { createOperationsApp } from "./ops_app.ts";
 * import { Registry } from "./metrics.ts";
 * import { silentLogger } from "../cli/log.ts";
 * const ops = createOperationsApp({
 *   registry: new Registry(),
 *   notReadyReasons: () => Promise.resolve(["the parent was never reached"]),
 *   log: silentLogger,
 * });
 * console.log((await ops.request("/readyz")).status); // 503
 * ```
 */
export function createOperationsApp(options: OperationsAppOptions): Hono {
  const { registry, log } = options;
  const app = new Hono();
  app.onError((error, c) => internalErrorAnswer(c, error, log, "operations request failed"));
  const paths: string[] = [OPS_PATHS.prometheus, OPS_PATHS.health, OPS_PATHS.ready];
  if (options.extend) paths.push(OPS_PATHS.metrics);
  app.notFound((c) =>
    c.json(
      errorBody(
        "ERR_NOT_FOUND",
        `No such path: ${c.req.path}; the operations listener serves GET ${paths.join(", GET ")}`,
      ),
      404,
    )
  );

  app.get(OPS_PATHS.health, (c) => c.json({ status: "ok" }));
  app.get(OPS_PATHS.ready, async (c) => {
    const reasons = await options.notReadyReasons();
    return reasons.length === 0
      ? c.json({ status: "ready" })
      : c.json({ status: "not ready", reasons }, 503);
  });
  app.get(
    OPS_PATHS.prometheus,
    async (c) => c.body(await registry.metrics(), 200, { "content-type": registry.contentType }),
  );
  options.extend?.(app);
  return app;
}

/**
 * Serves an operations app: logs its address (port 0 picks a free one) and warns when it is
 * reachable from other hosts.
 *
 * @throws {Deno.errors.AddrInUse} and the like, as `Deno.serve` does.
 */
export function serveOpsListener(
  address: { hostname: string; port: number },
  app: Hono,
  log: Logger,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: ({ hostname, port }) => {
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      log.info(`operations listener on http://${host}:${port}`, {
        paths: `${OPS_PATHS.prometheus},${OPS_PATHS.health},${OPS_PATHS.ready}`,
      });
      if (!isLoopback(hostname)) {
        log.warn(
          "the operations listener is reachable from other hosts: whoever reaches it reads the " +
            "counters; bind it to 127.0.0.1 or firewall it",
        );
      }
    },
  }, app.fetch);
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname.startsWith("127.");
}
