/**
 * `mle-relay run`: serves the relay's API and forwards accepted reports until SIGTERM or SIGINT.
 *
 * @module
 */

import type { FlattenedJws } from "../envelope/jws.ts";
import type { VoucherStatement } from "../protocol/relay_voucher.ts";
import { EXIT } from "../cli/exit_codes.ts";
import { openLogger } from "../cli/log_options.ts";
import { createMetricsRegistry } from "../ops/metrics.ts";
import { serveOpsListener } from "../ops/ops_app.ts";
import { VERSION } from "../protocol/version.ts";
import { ParentReachability } from "./parent_reachability.ts";
import { createRelayOpsApp } from "./relay_ops.ts";
import { CliError } from "../cli/output.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { signRelayVoucher } from "../protocol/relay_voucher.ts";
import { createRelayApp } from "./app.ts";
import { lockDataDir } from "./data_dir_lock.ts";
import { openDecryptingRelay } from "./decrypting_relay.ts";
import { relaySelf } from "./key_holder_record.ts";
import { DocumentCache } from "./document_cache.ts";
import { Forwarder } from "./forwarder.ts";
import { KeyExchangeSalts } from "./key_exchange_salts.ts";
import { ParentList } from "../protocol/parent_list.ts";
import { openRelayTrust } from "./relay_trust.ts";
import { ParentCapabilities } from "./parent_capabilities.ts";
import { Upstream } from "./upstream.ts";
import { SiteParents } from "./site_parents.ts";
import { RelayIdentity } from "./relay_identity.ts";
import { Spool } from "./spool.ts";
import { parseSpoolRunArgs, startRejectedPruning } from "./spool_setup.ts";
import { UpstreamRefusals } from "./upstream_refusals.ts";
import { openRelayUploads } from "./upload_setup.ts";
import { parseRunArgs, RUN_HELP } from "./run_settings.ts";

const TOOL = "mle-relay";
/** How long a stop waits for requests and sends in flight before exiting anyway. */
const STOP_GRACE_MS = 10_000;

/** Runs the relay until a stop signal; returns the exit code. */
export async function runRelay(args: string[]): Promise<number> {
  const settings = parseRunArgs(args);
  if (settings === null) {
    console.log(RUN_HELP);
    return EXIT.ok;
  }
  const { dataDir } = settings;

  try {
    await ensurePrivateDir(dataDir);
  } catch (error) {
    throw new CliError(`Cannot use data dir "${dataDir}": ${(error as Error).message}`, {
      hint: "give --data-dir a folder this user can create and write",
    });
  }
  const log = openLogger(TOOL, settings.log);
  const lock = await lockDataDir(dataDir);
  if (lock === null) {
    throw new CliError(`Cannot use data dir "${dataDir}": another mle-relay is running on it`, {
      hint: "stop that relay first, or give this one its own --data-dir",
    });
  }
  try {
    const { parentUrl } = settings;
    const spoolLimits = settings.spool ?? parseSpoolRunArgs({}, () => undefined);
    const spool = await Spool.open(dataDir, spoolLimits);
    if (spool.droppedBytes > 0) {
      log.warn("dropped the torn end of the spool (never acknowledged)", {
        bytes: spool.droppedBytes,
      });
    }
    // Every request upstream goes through the one ordered list (the masthead's servers last).
    const parents = new ParentList({ parents: settings.parentUrls ?? [parentUrl] });
    const upstream = new Upstream(parents);
    const { masthead, revocations, certificate, authenticator, authorized } = await openRelayTrust(
      { ...settings, parentUrl: upstream },
      log,
    );
    const siteParents = new SiteParents({
      upstream,
      operatorParents: parents.parents,
      masthead,
      log,
      intervalMs: settings.revocationIntervalMs,
    });
    const documents = await DocumentCache.open({
      dir: joinPath(dataDir, "cache"),
      parentUrl: upstream,
      log,
      certificate,
    });
    const refusals = new UpstreamRefusals();
    const decrypting = settings.decrypt
      ? await openDecryptingRelay(settings, spool, {
        revocations,
        refusals,
        certificate,
        upstream,
      }, log)
      : null;
    const forwarder = decrypting?.forwarder ??
      new Forwarder({
        spool,
        parentUrl,
        parents,
        parentCapabilities: new ParentCapabilities(upstream),
        log,
        concurrency: settings.concurrency,
        batchMax: settings.forwardBatchMax,
        refusals,
      });
    // The senders' keys this relay knows: the admitted clients', or those its parent told it.
    const senderKeys = authorized
      ? { knownKey: (cid: number) => authorized.publicKeyOf(cid) }
      : decrypting?.clientKeys;
    const uploads = await openRelayUploads({
      dataDir,
      parentUrl: upstream,
      log,
      acceptsEncrypted: settings.acceptsEncryptedReports,
      concurrency: settings.concurrency,
      settings: settings.uploads,
      admit: (cid) =>
        authenticator?.checkComputer(cid, "upload") ?? revocations.refusalFor(cid, "upload"),
      senderKeys,
    });
    const metrics = createMetricsRegistry("relay", VERSION);
    const parent = new ParentReachability({
      parentUrl: upstream,
      log,
      intervalMs: settings.parentProbeIntervalMs,
    });
    const ops = createRelayOpsApp({
      registry: metrics.registry,
      log,
      spool,
      forwarder,
      parent,
      refusals,
      uploadBuffer: uploads.buffer,
      revocations,
    });
    const app = createRelayApp({
      registry: metrics.registry,
      spool,
      forwarder,
      documents,
      parentUrl: upstream,
      acceptsEncryptedReports: settings.acceptsEncryptedReports,
      decrypting: settings.decrypt,
      log,
      revocations,
      authenticator,
      refusals,
      senderKeys,
      vouch: voucherSigner(dataDir),
      keyExchangeSalts: new KeyExchangeSalts(authenticator?.salt ?? null, upstream),
      uploads: uploads.app,
    });

    let server: Deno.HttpServer<Deno.NetAddr>;
    let opsServer: Deno.HttpServer<Deno.NetAddr>;
    try {
      opsServer = serveOpsListener(settings.ops, ops, log);
      server = Deno.serve({
        hostname: settings.hostname,
        port: settings.port,
        onListen: ({ hostname, port }) => {
          const host = hostname.includes(":") ? `[${hostname}]` : hostname;
          console.error(
            `${TOOL}: listening on http://${host}:${port} (parent ${settings.parentUrl}, ` +
              `${spool.count()} reports spooled, encrypted reports ${
                settings.acceptsEncryptedReports ? "accepted" : "refused"
              })`,
          );
        },
      }, app.fetch);
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable) {
        throw new CliError(
          `Cannot listen: ${(error as Error).message}`,
          { hint: "give another --listen or --ops-listen address, or stop what uses this one" },
        );
      }
      throw error;
    }
    forwarder.start();
    decrypting?.keyHolderRecord.start(relaySelf(server.addr, {
      HOSTNAME: Deno.env.get("HOSTNAME"),
      COMPUTERNAME: Deno.env.get("COMPUTERNAME"),
    }));
    uploads.forwarder.start();
    revocations.start();
    siteParents.start();
    parent.start();
    const stopPruning = startRejectedPruning(spool, spoolLimits.rejectedMaxAgeMs, log);

    const signal = await waitForStopSignal(server.finished);
    log.info("stopping", { signal, inFlight: forwarder.inFlight });
    // Stop accepting first, so that nothing is acknowledged after the forwarder stops.
    await withTimeout(server.shutdown(), STOP_GRACE_MS);
    stopPruning();
    await forwarder.stop(STOP_GRACE_MS);
    await decrypting?.keyHolderRecord.stop();
    await uploads.forwarder.stop(STOP_GRACE_MS);
    await revocations.stop();
    siteParents.stop();
    await spool.close();
    parent.stop();
    await withTimeout(opsServer.shutdown(), STOP_GRACE_MS);
    metrics.close();
    log.info("stopped", { waiting: spool.count(), ...forwarder.stats() });
    return EXIT.ok;
  } finally {
    lock.release();
    log.close();
  }
}

/** Resolves with the signal's name on SIGTERM or SIGINT (or "closed" if the server ends). */
async function waitForStopSignal(finished: Promise<void>): Promise<string> {
  const listeners: [Deno.Signal, () => void][] = [];
  try {
    return await Promise.race([
      new Promise<string>((resolve) => {
        for (const name of ["SIGTERM", "SIGINT"] as const) {
          const listener = () => resolve(name);
          try {
            Deno.addSignalListener(name, listener);
            listeners.push([name, listener]);
          } catch {
            // Windows has no SIGTERM: SIGINT (Ctrl+C) still stops the relay.
          }
        }
      }),
      finished.then(() => "closed"),
    ]);
  } finally {
    for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
  }
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

/**
 * Signs vouchers with the relay's own key (`<data-dir>/KeyStorage`, made on first use): what a
 * relay adds to a registration before passing it to an authenticating parent (`--trust-relay`
 * there): the client's address, and whether this (authenticating) relay admitted it.
 */
function voucherSigner(dataDir: string) {
  let identity: Promise<RelayIdentity> | null = null;
  return async (registration: FlattenedJws, statement: VoucherStatement) => {
    identity ??= RelayIdentity.open(dataDir);
    const { privateKey, publicKeyText } = await identity;
    return await signRelayVoucher(privateKey, publicKeyText, registration, statement);
  };
}
