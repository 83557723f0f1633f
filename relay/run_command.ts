/**
 * `mle-relay run`: serves the relay's API and forwards accepted reports until SIGTERM or SIGINT.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { FlattenedJws } from "../envelope/jws.ts";
import type { VoucherStatement } from "../protocol/relay_voucher.ts";
import { EXIT } from "../cli/exit_codes.ts";
import { parseListenAddress } from "../cli/listen_address.ts";
import {
  LOG_OPTIONS,
  logOptionsHelp,
  type LogSettings,
  openLogger,
  readLogSettings,
} from "../cli/log_options.ts";
import { createMetricsRegistry } from "../ops/metrics.ts";
import { serveOpsListener } from "../ops/ops_app.ts";
import { VERSION } from "../protocol/version.ts";
import { DEFAULT_PARENT_PROBE_INTERVAL_MS, ParentReachability } from "./parent_reachability.ts";
import { createRelayOpsApp } from "./relay_ops.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { expandHomeInOptions } from "../cli/home_path.ts";
import { defaultRelayDataDir } from "../keystore/default_paths.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { MAX_REPORT_BATCH_COUNT } from "../protocol/limits.ts";
import { DEFAULT_PORT, DEFAULT_RELAY_OPS_PORT, OPS_PATHS } from "../protocol/paths.ts";
import { isRelayPublicKey, signRelayVoucher } from "../protocol/relay_voucher.ts";
import { createRelayApp } from "./app.ts";
import { lockDataDir } from "./data_dir_lock.ts";
import { DEFAULT_BUNDLE_MAX, DEFAULT_BUNDLE_WAIT_MS } from "./decrypting_forwarder.ts";
import { openDecryptingRelay } from "./decrypting_relay.ts";
import { DocumentCache } from "./document_cache.ts";
import { DEFAULT_FORWARD_BATCH_MAX, Forwarder } from "./forwarder.ts";
import { KeyExchangeSalts } from "./key_exchange_salts.ts";
import { parentBaseUrl } from "./parent_url.ts";
import { orderParents, ParentList } from "../protocol/parent_list.ts";
import { openRelayTrust, SHARED_PASSWORD_ENV } from "./relay_trust.ts";
import { DEFAULT_REVOCATION_INTERVAL_SECONDS } from "./revocation_list.ts";
import { RelayIdentity } from "./relay_identity.ts";
import { Spool, type SpoolLimits } from "./spool.ts";
import {
  parseSpoolRunArgs,
  SPOOL_RUN_HELP,
  SPOOL_RUN_OPTIONS,
  startRejectedPruning,
} from "./spool_setup.ts";
import { UpstreamRefusals } from "./upstream_refusals.ts";
import {
  openRelayUploads,
  parseUploadRunArgs,
  type RelayUploadSettings,
  UPLOAD_RUN_HELP,
  UPLOAD_RUN_OPTIONS,
} from "./upload_setup.ts";

/** Help of `mle-relay run`. */
export const RUN_HELP =
  `Usage: mle-relay run --parent URL [--data-dir DIR] [--listen HOST:PORT] [options]

Serves the same API as the server, between clients (or child relays) and a parent. Accepted
reports are written to disk before they are acknowledged, then forwarded to the parent oldest
first; encrypted reports stay ciphertext. Signed documents are passed down and cached; of the
encryption certificate, children get the newest one verified against the pinned masthead (kept in
DIR/encryption-certificate.json), never an older one the parent serves later.

Options:
  --parent URL            the parent (the server or another relay): http(s)://HOST:PORT
                          (required; env MLE_RELAY_PARENT); repeat it for the next ones to try:
                          reports go to the first that answers, the next after a failure, the
                          first again once it answers (jittered back-off per parent); the
                          pinned masthead's servers come last
  --data-dir DIR          spool, rejected reports and cached documents
                          (default ${defaultRelayDataDir()}; env MLE_RELAY_DATA_DIR)
  --listen HOST:PORT      address to serve on (default 0.0.0.0:${DEFAULT_PORT}; env MLE_RELAY_LISTEN);
                          port 0 picks a free port
  --no-encrypted-reports  refuse encrypted reports with 415 (a relay that predates MLE); clients
                          keep theirs queued, except "optional" ones while the site has no
                          enabled certificate or has signed
                          _BESClient_Report_Encryption_AllowLegacyRelays=1, which send clear text
  --concurrency N         requests in flight to the parent at once, 1 to 64 (default 4)
  --forward-batch-max N   most reports in one request to a parent that takes batches (the
                          server, or a relay of this version), 1 to 512 (default 256); 1 sends
                          one report per request. Parents that do not announce batches always
                          get one report per request
${SPOOL_RUN_HELP}
  --authenticating        admit registrations only after the manual key exchange
                          ("mle-client register --password … <relay-url>"), and reports and
                          settings requests only from admitted, non-revoked clients, whose report
                          and upload-manifest signatures are checked (nothing is decrypted)
  --password-file FILE    (authenticating) the shared password, first line of a file only its owner
                          can read (else env ${SHARED_PASSWORD_ENV}, else a prompt)
  --one-time-passwords FILE
                          (authenticating) one password a line (at most 1000), each admitting one
                          client once; read again when it changes. Each password's key is derived
                          slowly at start (about 70 ms each); until then a client using it is
                          told to retry (503 ERR_KEY_EXCHANGE_NOT_READY)
  --trust-relay KEY       (authenticating) trust the relay below with this public key (its key:
                          "mle-relay key --data-dir DIR" there): the clients an authenticating
                          relay admitted are admitted here without a password of this relay's,
                          and failed key exchanges through any such relay count against the
                          client's address it reports, not the relay's; repeatable
  --revocation-interval SECONDS
                          how often the site's revocation list is fetched from the parent, 1 to
                          86400 (default ${DEFAULT_REVOCATION_INTERVAL_SECONDS}); revoked computers' reports are refused
  --masthead FILE         the site's masthead, to verify the revocation list with (default: the
                          parent's, pinned in the data dir on first start)
  --decrypt               a decrypting top-level relay (its parent is the server): decrypts the
                          client reports whose key is in "<data dir>/Encryption Keys" (install it
                          with: mle-admin encryption import --from DIR --data-dir DIR), checks each
                          client's signatures, and sends them to the server as compressed bundles,
                          encrypted to the server's current key and signed once by this relay;
                          anything else goes untouched. Needs a pinned masthead (--masthead FILE,
                          or the one the import installed); the server takes bundles once the
                          relay is allowed: mle-admin relays allow ID (which also lets it ask the
                          server for clients' keys; reports forged for a client whose key it knows
                          are refused with 403)
  --bundle-max N          (decrypt) most reports in one bundle, 1 to 1000 (default ${DEFAULT_BUNDLE_MAX})
  --bundle-wait-ms MS     (decrypt) longest a report waits for its bundle to fill, 0 to 600000
                          milliseconds (default ${DEFAULT_BUNDLE_WAIT_MS})
${UPLOAD_RUN_HELP}
  --ops-listen HOST:PORT  the operations listener: GET ${OPS_PATHS.prometheus} (Prometheus metrics),
                          GET ${OPS_PATHS.health} (200 while running) and GET ${OPS_PATHS.ready} (200 when the
                          spool is writable and the parent answered lately, else 503 with the
                          reasons); never on --listen's port (default 127.0.0.1:${DEFAULT_RELAY_OPS_PORT}; env
                          MLE_RELAY_OPS_LISTEN); port 0 picks a free port, which the log names
  --parent-probe-interval SECONDS
                          how often the parent is asked whether it answers (GET capabilities),
                          1 to 3600 (default 30); /readyz fails after three intervals without
                          an answer
${logOptionsHelp("MLE_RELAY")}
  -h, --help              show this help

Examples:
  mle-relay run --parent http://server.example:52311 --data-dir /var/opt/mle-relay
  mle-relay run --parent http://relay1.example:52311 --listen 127.0.0.1:52312 --no-encrypted-reports
  mle-relay run --parent http://server.example:52311 --decrypt --bundle-max 500 --bundle-wait-ms 2000
  mle-relay run --parent http://server.example:52311 --authenticating \\
    --password-file /etc/mle-relay/password --one-time-passwords /etc/mle-relay/one-time.txt

Exit codes:
  0  stopped by SIGTERM or SIGINT, after the sends in flight finished
  1  failure: data dir unusable, address in use, another relay running on the same data dir
  2  misuse: unknown option, missing --parent, bad URL, address or number; an authenticating
     relay without a password, or a password file others can read
`;

const TOOL = "mle-relay";
/** How long a stop waits for requests and sends in flight before exiting anyway. */
const STOP_GRACE_MS = 10_000;

/** The validated settings of a run. */
export interface RunSettings {
  /** The first parent: documents, registrations, uploads and revocations go there. */
  parentUrl: string;
  /** Every `--parent`, in order: the report forwarder's list (the masthead's servers after). */
  parentUrls?: string[];
  dataDir: string;
  hostname: string;
  port: number;
  acceptsEncryptedReports: boolean;
  concurrency: number;
  /** Most reports in one batch to a parent that takes batches. */
  forwardBatchMax: number;
  /** The logging flags (`cli/log_options.ts`). */
  log: LogSettings;
  /** The operations listener's address (`--ops-listen`). */
  ops: { hostname: string; port: number };
  /** Milliseconds between two probes of the parent (`--parent-probe-interval`). */
  parentProbeIntervalMs: number;
  /** Milliseconds between two fetches of the revocation list. */
  revocationIntervalMs: number;
  mastheadFile?: string;
  authenticating: boolean;
  passwordFile?: string;
  oneTimePasswordsFile?: string;
  /** `--trust-relay`: public keys of authenticating relays below whose vouchers admit a client. */
  trustedRelayKeys?: string[];
  /** `--decrypt`: a decrypting top-level relay. */
  decrypt: boolean;
  bundleMax: number;
  bundleWaitMs: number;
  /** The upload buffer's size and the advertised throttle (defaults when absent). */
  uploads?: RelayUploadSettings;
  /** The spool's and the rejected folder's bounds (defaults when absent). */
  spool?: Required<SpoolLimits>;
}

/**
 * Reads `run`'s arguments (flags first, then environment, then defaults), or null for `--help`.
 *
 * @throws {UsageError} For anything malformed, naming the flag.
 */
export function parseRunArgs(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): RunSettings | null {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        "parent": { type: "string", multiple: true },
        "data-dir": { type: "string" },
        "listen": { type: "string" },
        "no-encrypted-reports": { type: "boolean" },
        "concurrency": { type: "string" },
        "forward-batch-max": { type: "string" },
        "authenticating": { type: "boolean" },
        "password-file": { type: "string" },
        "one-time-passwords": { type: "string" },
        "trust-relay": { type: "string", multiple: true },
        "revocation-interval": { type: "string" },
        "masthead": { type: "string" },
        "decrypt": { type: "boolean" },
        "bundle-max": { type: "string" },
        "bundle-wait-ms": { type: "string" },
        "ops-listen": { type: "string" },
        "parent-probe-interval": { type: "string" },
        ...LOG_OPTIONS,
        "help": { type: "boolean", short: "h" },
        ...UPLOAD_RUN_OPTIONS,
        ...SPOOL_RUN_OPTIONS,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`Cannot read arguments: ${(error as Error).message}`);
  }
  if (values.help) return null;
  expandHomeInOptions(values, ["data-dir", "password-file", "one-time-passwords", "masthead"]);

  const parents = values.parent ?? [env("MLE_RELAY_PARENT") ?? ""].filter((url) => url !== "");
  if (parents.length === 0) {
    throw new UsageError(
      "Cannot run without a parent",
      "give --parent http://SERVER:52311 (the server or another relay)",
    );
  }
  let parentUrls: string[];
  try {
    parentUrls = orderParents(parents.map((parent) => parentBaseUrl(parent)));
  } catch (error) {
    throw new UsageError((error as Error).message, "give --parent http://HOST:PORT");
  }

  const dataDir = values["data-dir"] ?? env("MLE_RELAY_DATA_DIR") ?? defaultRelayDataDir();
  if (dataDir === "") throw new UsageError("Cannot use an empty --data-dir");

  const listen = values.listen ?? env("MLE_RELAY_LISTEN") ?? `0.0.0.0:${DEFAULT_PORT}`;
  let address: { hostname: string; port: number };
  try {
    address = parseListenAddress(listen);
  } catch (error) {
    throw new UsageError((error as Error).message, "give --listen HOST:PORT");
  }

  const concurrencyText = values.concurrency ?? "4";
  const concurrency = Number(concurrencyText);
  if (!/^\d+$/.test(concurrencyText) || concurrency < 1 || concurrency > 64) {
    throw new UsageError(
      `Cannot use --concurrency "${concurrencyText}": expected an integer from 1 to 64`,
    );
  }

  const batchText = values["forward-batch-max"] ?? String(DEFAULT_FORWARD_BATCH_MAX);
  const forwardBatchMax = Number(batchText);
  if (!/^\d+$/.test(batchText) || forwardBatchMax < 1 || forwardBatchMax > MAX_REPORT_BATCH_COUNT) {
    throw new UsageError(
      `Cannot use --forward-batch-max "${batchText}": expected an integer from 1 to ${MAX_REPORT_BATCH_COUNT}`,
    );
  }

  const log = readLogSettings(values, env, "MLE_RELAY");
  let ops: { hostname: string; port: number };
  try {
    ops = parseListenAddress(
      values["ops-listen"] ?? env("MLE_RELAY_OPS_LISTEN") ?? `127.0.0.1:${DEFAULT_RELAY_OPS_PORT}`,
    );
  } catch (error) {
    throw new UsageError((error as Error).message, "give --ops-listen HOST:PORT");
  }
  if (ops.port !== 0 && ops.port === address.port) {
    throw new UsageError(
      `Cannot serve operations on the port clients reach (${address.port})`,
      `give --ops-listen another port (default 127.0.0.1:${DEFAULT_RELAY_OPS_PORT})`,
    );
  }

  const intervalText = values["revocation-interval"] ?? String(DEFAULT_REVOCATION_INTERVAL_SECONDS);
  const interval = Number(intervalText);
  if (!/^\d+$/.test(intervalText) || interval < 1 || interval > 86_400) {
    throw new UsageError(
      `Cannot use --revocation-interval "${intervalText}": expected seconds from 1 to 86400`,
    );
  }
  const authenticating = values.authenticating === true;
  for (const flag of ["password-file", "one-time-passwords"] as const) {
    if (values[flag] === "") throw new UsageError(`Cannot use an empty --${flag}`);
    if (values[flag] !== undefined && !authenticating) {
      throw new UsageError(
        `Cannot use --${flag} without --authenticating`,
        "add --authenticating to make this relay require the manual key exchange",
      );
    }
  }
  const trustedRelayKeys = values["trust-relay"] ?? [];
  if (trustedRelayKeys.length > 0 && !authenticating) {
    throw new UsageError(
      "Cannot use --trust-relay without --authenticating",
      "add --authenticating: a plain relay admits every client anyway",
    );
  }
  for (const key of trustedRelayKeys) {
    if (!isRelayPublicKey(key)) {
      throw new UsageError(
        `Cannot use --trust-relay "${key.slice(0, 60)}": expected a relay's public key (43 ` +
          'base64url characters, as "mle-relay key" prints it)',
      );
    }
  }
  if (values.masthead === "") throw new UsageError("Cannot use an empty --masthead");
  const decrypt = values.decrypt === true;
  const bundleMax = boundedInteger(values["bundle-max"], DEFAULT_BUNDLE_MAX, 1, 1000, "bundle-max");
  const bundleWaitMs = boundedInteger(
    values["bundle-wait-ms"],
    DEFAULT_BUNDLE_WAIT_MS,
    0,
    600_000,
    "bundle-wait-ms",
  );
  if (!decrypt && (values["bundle-max"] !== undefined || values["bundle-wait-ms"] !== undefined)) {
    throw new UsageError(
      "Cannot use --bundle-max or --bundle-wait-ms without --decrypt",
      "only a decrypting relay bundles reports",
    );
  }

  return {
    parentUrl: parentUrls[0],
    parentUrls,
    dataDir,
    ...address,
    acceptsEncryptedReports: !values["no-encrypted-reports"],
    concurrency,
    forwardBatchMax,
    log,
    ops,
    parentProbeIntervalMs: boundedInteger(
      values["parent-probe-interval"],
      DEFAULT_PARENT_PROBE_INTERVAL_MS / 1000,
      1,
      3600,
      "parent-probe-interval",
    ) * 1000,
    revocationIntervalMs: interval * 1000,
    mastheadFile: values.masthead,
    authenticating,
    passwordFile: values["password-file"],
    oneTimePasswordsFile: values["one-time-passwords"],
    trustedRelayKeys,
    decrypt,
    bundleMax,
    bundleWaitMs,
    uploads: parseUploadRunArgs(values, env),
    spool: parseSpoolRunArgs(values, env),
  };
}

function boundedInteger(
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
  flag: string,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(
      `Cannot use --${flag} "${text}": expected an integer from ${min} to ${max}`,
    );
  }
  return value;
}

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
    const { masthead, revocations, certificate, authenticator, authorized } = await openRelayTrust(
      settings,
      log,
    );
    const documents = await DocumentCache.open({
      dir: joinPath(dataDir, "cache"),
      parentUrl,
      log,
      certificate,
    });
    const parents = new ParentList({
      parents: orderParents(settings.parentUrls ?? [parentUrl], masthead.serverUrls),
    });
    const refusals = new UpstreamRefusals();
    const decrypting = settings.decrypt
      ? await openDecryptingRelay(settings, spool, { revocations, refusals, certificate }, log)
      : null;
    const forwarder = decrypting?.forwarder ??
      new Forwarder({
        spool,
        parentUrl,
        parents,
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
      parentUrl,
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
      parentUrl,
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
      parentUrl,
      acceptsEncryptedReports: settings.acceptsEncryptedReports,
      decrypting: settings.decrypt,
      log,
      revocations,
      authenticator,
      refusals,
      senderKeys,
      vouch: voucherSigner(dataDir),
      keyExchangeSalts: new KeyExchangeSalts(authenticator?.salt ?? null, parentUrl),
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
    uploads.forwarder.start();
    revocations.start();
    parent.start();
    const stopPruning = startRejectedPruning(spool, spoolLimits.rejectedMaxAgeMs, log);

    const signal = await waitForStopSignal(server.finished);
    log.info("stopping", { signal, inFlight: forwarder.inFlight });
    // Stop accepting first, so that nothing is acknowledged after the forwarder stops.
    await withTimeout(server.shutdown(), STOP_GRACE_MS);
    stopPruning();
    await forwarder.stop(STOP_GRACE_MS);
    await uploads.forwarder.stop(STOP_GRACE_MS);
    await revocations.stop();
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
