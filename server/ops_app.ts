/**
 * The server's operations app, served on its own listener (`--ops-listen`, 127.0.0.1 by default)
 * and never on the port clients reach: the counters and a health check are for the operator and
 * monitoring, not for whoever can reach the server. What it answers costs no RSA operation and
 * no write.
 *
 * @module
 */

import { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { errorBody } from "../protocol/http_error.ts";
import { OPS_PATHS } from "../protocol/paths.ts";
import type { Store } from "../store/store.ts";
import type { BatchWriter } from "./batch_writer.ts";
import type { DatabaseOutageSpool } from "./database_outage_spool.ts";
import type { BundleIngest } from "./bundle_ingest.ts";
import type { ContentKeySource } from "./content_key_source.ts";
import type { KeyRing } from "./key_ring.ts";
import { processMemory } from "./process_metrics.ts";

/** What the operations app reads its counters from: the same objects the server app uses. */
export interface OpsAppOptions {
  store: Store;
  keys: KeyRing;
  contentKeys: ContentKeySource;
  writer: BatchWriter;
  bundles: BundleIngest;
  log: Logger;
  /** A server on a shared database: its state (available or not) and its outage spool. */
  outageSpool?: DatabaseOutageSpool;
}

/**
 * Creates the operations app: `GET /api/v1/metrics` (JSON counters) and `GET /healthz` (200).
 *
 * @example
 * ```ts ignore
 * import { createOpsApp } from "./ops_app.ts";
 * const ops = createOpsApp({ store, keys, contentKeys, writer, bundles, log });
 * Deno.serve({ hostname: "127.0.0.1", port: 52312 }, ops.fetch);
 * ```
 */
export function createOpsApp(options: OpsAppOptions): Hono {
  const { store, keys, contentKeys, writer, bundles, log } = options;
  const app = new Hono();

  app.onError((error, c) => {
    const requestId = crypto.randomUUID();
    log.error("operations request failed", {
      requestId,
      path: c.req.path,
      cause: (error as Error).message,
    });
    return c.json(errorBody("ERR_INTERNAL", `Internal error; request id ${requestId}`), 500);
  });
  app.notFound((c) =>
    c.json(
      errorBody(
        "ERR_NOT_FOUND",
        `No such path: ${c.req.path}; the operations listener serves GET ${OPS_PATHS.metrics} ` +
          `and GET ${OPS_PATHS.health}`,
      ),
      404,
    )
  );

  // Serving either way: while the database is away, registered computers' reports are spooled.
  app.get(OPS_PATHS.health, (c) =>
    c.json({
      status: "ok",
      ...(options.outageSpool ? { database: options.outageSpool.state.database } : {}),
    }));

  app.get(OPS_PATHS.metrics, async (c) =>
    c.json({
      rsaPrivateOps: keys.rsaPrivateOps,
      // Null while the database is away (outageSpool says so).
      reportsStored: await store.countReports().catch(() => null),
      keysLoaded: keys.kids.length,
      reportsStoredSinceStart: writer.stored,
      contentKeyVault: keys.vaultStats,
      contentKeySource: contentKeys.stats,
      ...processMemory(),
      ...bundles.stats,
      ...(options.outageSpool ? { outageSpool: options.outageSpool.state } : {}),
    }));

  return app;
}
