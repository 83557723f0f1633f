/**
 * The relay's operations app (`mle-relay run --ops-listen`, `ops/ops_app.ts`): its Prometheus
 * metrics (spool, forwarding, parent, upload buffer, revocation list), `/healthz`, and `/readyz`
 * (the spool folder is writable and the parent answered lately).
 *
 * @module
 */

import type { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { countedFrom, gaugedFrom, type Registry, type Sample } from "../ops/metrics.ts";
import { createOperationsApp } from "../ops/ops_app.ts";
import type { ForwarderStats } from "./forwarder.ts";
import type { ParentReachability } from "./parent_reachability.ts";
import type { RevocationList } from "./revocation_list.ts";
import type { Spool } from "./spool.ts";
import type { UploadBuffer } from "./upload_buffer.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";

/** What the relay's operations app reads. */
export interface RelayOpsOptions {
  registry: Registry;
  log: Logger;
  spool: Pick<Spool, "stats" | "rejectedBytes" | "dir">;
  forwarder: { stats(): ForwarderStats; readonly backingOff: boolean };
  parent: Pick<ParentReachability, "state" | "staleAfterMs">;
  refusals: Pick<UpstreamRefusals, "refusedByCode">;
  uploadBuffer: Pick<UploadBuffer, "bytes" | "waiting">;
  revocations: Pick<RevocationList, "status">;
  now?: () => number;
}

/**
 * Adds the relay's metrics to the registry and creates its operations app.
 *
 * @example
 * ```ts ignore
 * const ops = createRelayOpsApp({ registry, log, spool, forwarder, parent, refusals, uploadBuffer, revocations });
 * serveOpsListener({ hostname: "127.0.0.1", port: 52314 }, ops, log);
 * ```
 */
export function createRelayOpsApp(options: RelayOpsOptions): Hono {
  const { registry, spool, forwarder, parent, refusals, uploadBuffer, revocations } = options;
  const now = options.now ?? Date.now;
  gaugedFrom(
    registry,
    "relay_spool_messages",
    "Reports waiting in the spool",
    () => spool.stats().messages,
  );
  gaugedFrom(
    registry,
    "relay_spool_bytes",
    "Bytes waiting in the spool",
    () => spool.stats().bytes,
  );
  gaugedFrom(
    registry,
    "relay_spool_oldest_age_seconds",
    "Age of the oldest spooled report, in seconds (0 when the spool is empty)",
    () => {
      const oldestAt = spool.stats().oldestAt;
      return oldestAt === null ? 0 : Math.max(0, (now() - oldestAt) / 1000);
    },
  );
  gaugedFrom(
    registry,
    "relay_rejected_bytes",
    "Bytes of reports kept in rejected/",
    () => spool.rejectedBytes(),
  );
  countedFrom(
    registry,
    "relay_forwarded_total",
    "Spooled reports sent to the parent, by outcome (failure: no answer or 5xx, kept to retry)",
    () => {
      const stats = forwarder.stats();
      return [
        [{ outcome: "delivered" }, stats.delivered],
        [{ outcome: "duplicate" }, stats.duplicates],
        [{ outcome: "rejected" }, stats.rejected],
        [{ outcome: "failure" }, stats.failures],
      ];
    },
    ["outcome"],
  );
  countedFrom(
    registry,
    "relay_parent_refused_total",
    "Reports the parent refused for good (moved to rejected/), by its error code",
    () => [...refusals.refusedByCode()].map(([code, count]): Sample => [{ code }, count]),
    ["code"],
  );
  gaugedFrom(
    registry,
    "relay_parent_up",
    "1 when the parent answered the last probe",
    () => parent.state.up ? 1 : 0,
  );
  gaugedFrom(
    registry,
    "relay_parent_last_reached_age_seconds",
    "Seconds since the parent last answered (-1: never since start)",
    () => {
      const at = parent.state.lastReachedAt;
      return at === null ? -1 : Math.max(0, (now() - at) / 1000);
    },
  );
  gaugedFrom(
    registry,
    "relay_forwarder_backing_off",
    "1 while forwarding waits after a failure (exponential back-off)",
    () => forwarder.backingOff ? 1 : 0,
  );
  gaugedFrom(
    registry,
    "relay_upload_buffer_bytes",
    "Bytes in the upload buffer",
    () => uploadBuffer.bytes,
  );
  gaugedFrom(
    registry,
    "relay_upload_buffer_chunks",
    "Upload chunks waiting",
    () => uploadBuffer.waiting,
  );
  gaugedFrom(
    registry,
    "relay_revocation_list_age_seconds",
    "Seconds since the revocation list held was issued (-1: none held)",
    () => {
      const issuedAt = revocations.status.issuedAt;
      if (issuedAt === null) return -1;
      const issuedMs = issuedAt > 1e11 ? issuedAt : issuedAt * 1000;
      return Math.max(0, (now() - issuedMs) / 1000);
    },
  );
  gaugedFrom(
    registry,
    "relay_revoked_computers",
    "Computers on the revocation list held",
    () => revocations.status.revoked,
  );

  return createOperationsApp({
    registry,
    log: options.log,
    notReadyReasons: async () => {
      const reasons: string[] = [];
      const probe = joinPath(spool.dir, ".ready-probe");
      try {
        await Deno.writeFile(probe, new Uint8Array(1), { mode: 0o600 });
        await Deno.remove(probe);
      } catch (error) {
        reasons.push(`the spool folder cannot be written: ${(error as Error).message}`);
      }
      const { lastReachedAt, lastFailure } = parent.state;
      if (lastReachedAt === null) {
        reasons.push(
          `the parent was not reached since start${lastFailure ? `: ${lastFailure}` : ""}`,
        );
      } else if (now() - lastReachedAt > parent.staleAfterMs) {
        reasons.push(
          `the parent was last reached ${Math.round((now() - lastReachedAt) / 1000)} s ago` +
            (lastFailure ? `: ${lastFailure}` : ""),
        );
      }
      return reasons;
    },
  });
}
