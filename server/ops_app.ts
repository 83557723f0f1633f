/**
 * The server's operations app, served on its own listener (`--ops-listen`, 127.0.0.1 by default)
 * and never on the port clients reach (`ops/ops_app.ts`): Prometheus `/metrics`, `/healthz`,
 * `/readyz` (store reachable, keys loaded), and the JSON counters at `/api/v1/metrics` that the
 * benchmark and tests read. What it answers costs no RSA operation and no write.
 *
 * @module
 */

import type { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { countedFrom, durationHistogram, gaugedFrom, Registry } from "../ops/metrics.ts";
import { createOperationsApp } from "../ops/ops_app.ts";
import { processMemory } from "../ops/process_metrics.ts";
import { OPS_PATHS } from "../protocol/paths.ts";
import type { Store } from "../store/store.ts";
import type { BatchWriter } from "./batch_writer.ts";
import type { DatabaseOutageSpool } from "./database_outage_spool.ts";
import type { BundleIngest } from "./bundle_ingest.ts";
import type { ContentKeySource } from "./content_key_source.ts";
import type { KeyRing } from "./key_ring.ts";
import type { UploadIngest } from "./upload_ingest.ts";

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
  /** The upload path, when the server has one. */
  uploads?: Pick<UploadIngest, "openStats">;
  /** The process's registry (`ops/metrics.ts`, shared with the public app's answer counts). */
  registry?: Registry;
  /** How long the store may take to answer the readiness probe (default 2 s). */
  storeProbeTimeoutMs?: number;
}

/**
 * Creates the operations app and adds the server's metrics to the registry.
 *
 * @example
 * ```ts ignore
 * import { createOpsApp } from "./ops_app.ts";
 * const ops = createOpsApp({ store, keys, contentKeys, writer, bundles, log, registry });
 * Deno.serve({ hostname: "127.0.0.1", port: 52312 }, ops.fetch);
 * ```
 */
export function createOpsApp(options: OpsAppOptions): Hono {
  const { store, keys, contentKeys, writer, bundles, log } = options;
  const registry = options.registry ?? new Registry();
  addServerMetrics(registry, options);
  return createOperationsApp({
    registry,
    log,
    notReadyReasons: () => notReadyReasons(options),
    extend(app) {
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
    },
  });
}

function addServerMetrics(registry: Registry, options: OpsAppOptions): void {
  const { keys, contentKeys, writer, bundles, uploads } = options;
  countedFrom(
    registry,
    "reports_stored_total",
    "Reports stored since start (resends not counted), by how they arrived",
    () => [
      [{ encryption: "encrypted" }, writer.storedEncrypted],
      [{ encryption: "clear" }, writer.stored - writer.storedEncrypted],
    ],
    ["encryption"],
  );
  const commits = durationHistogram(
    registry,
    "commit_duration_seconds",
    "Time to commit one batch of reports to the store",
  );
  writer.onCommit = (seconds) => commits.observe(seconds);
  countedFrom(
    registry,
    "rsa_private_operations_total",
    "RSA private-key operations (content-key and file-key unwraps)",
    () => keys.rsaPrivateOps,
  );
  countedFrom(
    registry,
    "content_key_lookups_total",
    "Content keys found without an RSA operation (memo, vault) and vault misses",
    () => [
      [{ source: "memo", result: "hit" }, contentKeys.stats.memoHits],
      [{ source: "vault", result: "hit" }, keys.vaultStats.hits],
      [{ source: "vault", result: "miss" }, keys.vaultStats.misses],
    ],
    ["source", "result"],
  );
  countedFrom(
    registry,
    "content_keys_refused_total",
    "New content keys refused before any RSA operation, by reason",
    () => {
      const stats = contentKeys.stats;
      return [
        [{ reason: "failed_before" }, stats.failuresRemembered],
        [{ reason: "over_budget" }, stats.refusedOverBudget],
        [{ reason: "busy" }, stats.refusedBusy],
      ];
    },
    ["reason"],
  );
  gaugedFrom(registry, "keys_loaded", "MLE private keys loaded", () => keys.kids.length);
  countedFrom(
    registry,
    "bundles_opened_total",
    "Bundles from decrypting relays opened",
    () => bundles.stats.bundlesOpened,
  );
  countedFrom(
    registry,
    "bundle_reports_total",
    "Reports in opened bundles, by outcome",
    () => {
      const stats = bundles.stats;
      return [
        [{ outcome: "refused" }, stats.bundleReportsRefused],
        [{ outcome: "accepted" }, stats.reportsInBundles - stats.bundleReportsRefused],
      ];
    },
    ["outcome"],
  );
  if (uploads) {
    gaugedFrom(
      registry,
      "uploads_open",
      "Uploads open in memory",
      () => uploads.openStats().uploads,
    );
    gaugedFrom(
      registry,
      "upload_chunk_bytes_in_flight",
      "Bytes of upload chunks being opened",
      () => uploads.openStats().chunkBytes,
    );
  }
}

/** Why the server is not ready: the store does not answer, or no key is loaded when needed. */
async function notReadyReasons(options: OpsAppOptions): Promise<string[]> {
  const reasons: string[] = [];
  const timeoutMs = options.storeProbeTimeoutMs ?? 2_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      options.store.getDocument("masthead"),
      new Promise((_, reject) =>
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      ),
    ]);
  } catch (error) {
    reasons.push(`the store cannot be read: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  const outage = options.outageSpool?.state;
  if (outage && outage.database !== "available") {
    reasons.push(
      `the database is unavailable (since ${
        outage.unavailableSince ?? "now"
      }): reports of known computers are spooled here and stored when it returns; ` +
        "registrations and decisions are refused with 503",
    );
  }
  if (options.keys.certificate !== null && options.keys.kids.length === 0) {
    reasons.push(
      "an encryption certificate is deployed but no MLE private key is loaded: encrypted " +
        "reports are refused (check the Encryption Keys folder and mle-admin encryption list)",
    );
  }
  return reasons;
}
