/**
 * `mle-relay run`'s command line: its help, its flags and the validated settings they give
 * (flags first, then the environment, then defaults).
 *
 * @module
 */

import { parseFlags, readInteger, readListenAddress, readPath } from "../cli/flags.ts";
import {
  LOG_OPTIONS,
  logOptionsHelp,
  type LogSettings,
  readLogSettings,
} from "../cli/log_options.ts";
import { UsageError } from "../cli/output.ts";
import { defaultRelayDataDir } from "../keystore/default_paths.ts";
import { MAX_REPORT_BATCH_COUNT } from "../protocol/limits.ts";
import { orderParents } from "../protocol/parent_list.ts";
import { DEFAULT_PORT, DEFAULT_RELAY_OPS_PORT, OPS_PATHS } from "../protocol/paths.ts";
import { isRelayPublicKey } from "../protocol/relay_voucher.ts";
import {
  DEFAULT_BUNDLE_MAX,
  DEFAULT_BUNDLE_WAIT_MS,
  DEFAULT_DECRYPTING_CONCURRENCY,
} from "./decrypting_forwarder.ts";
import { DEFAULT_FORWARD_BATCH_MAX, DEFAULT_FORWARD_CONCURRENCY } from "./forwarder.ts";
import { DEFAULT_PARENT_PROBE_INTERVAL_MS } from "./parent_reachability.ts";
import { parentBaseUrl } from "./parent_url.ts";
import { SHARED_PASSWORD_ENV } from "./relay_trust.ts";
import { DEFAULT_UPLOAD_CONCURRENCY } from "./upload_forwarder.ts";
import { DEFAULT_REVOCATION_INTERVAL_SECONDS } from "./revocation_list.ts";
import type { SpoolLimits } from "./spool.ts";
import { parseSpoolRunArgs, SPOOL_RUN_HELP, SPOOL_RUN_OPTIONS } from "./spool_setup.ts";
import {
  parseUploadRunArgs,
  type RelayUploadSettings,
  UPLOAD_RUN_HELP,
  UPLOAD_RUN_OPTIONS,
} from "./upload_setup.ts";

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
                          every request (reports, documents, registrations, key exchanges,
                          uploads) goes to the first that answers, the next after a failure, the
                          first again once it answers (jittered back-off per parent). The site's
                          signed settings __RelayServer1 and __RelayServer2 (mle-admin settings
                          set ... --all) come before these, and
                          _BESClient_RelaySelect_ResistFailureIntervalSeconds keeps a failing
                          parent that long before switching; the pinned masthead's servers
                          come last
  --data-dir DIR          spool, rejected reports and cached documents
                          (default ${defaultRelayDataDir()}; env MLE_RELAY_DATA_DIR)
  --listen HOST:PORT      address to serve on (default 0.0.0.0:${DEFAULT_PORT}; env MLE_RELAY_LISTEN);
                          port 0 picks a free port
  --no-encrypted-reports  refuse encrypted reports with 415 (a relay that predates MLE); clients
                          keep theirs queued, except "optional" ones while the site has no
                          enabled certificate or has signed
                          _BESClient_Report_Encryption_AllowLegacyRelays=1, which send clear text
  --concurrency N         requests in flight to the parent at once, 1 to 64 (default
                          ${DEFAULT_FORWARD_CONCURRENCY} for reports, ${DEFAULT_DECRYPTING_CONCURRENCY} with --decrypt,
                          ${DEFAULT_UPLOAD_CONCURRENCY} for upload chunks)
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
                          how often the site's revocation list and its site-wide settings (the
                          parents above) are fetched from the parent, 1 to 86400 (default ${DEFAULT_REVOCATION_INTERVAL_SECONDS});
                          revoked computers' reports are refused
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
                          are refused with 403). Once allowed, it tells the server which keys it
                          holds, at start, every 10 s and when one is imported, so that
                          "mle-admin encryption status" lists it and "deploy" waits for it
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

/** The flags of `mle-relay run`. */
const RUN_FLAGS = {
  "parent": { type: "string", multiple: true },
  "data-dir": { type: "string", path: true },
  "listen": { type: "string" },
  "no-encrypted-reports": { type: "boolean" },
  "concurrency": { type: "string" },
  "forward-batch-max": { type: "string" },
  "authenticating": { type: "boolean" },
  "password-file": { type: "string", path: true },
  "one-time-passwords": { type: "string", path: true },
  "trust-relay": { type: "string", multiple: true },
  "revocation-interval": { type: "string" },
  "masthead": { type: "string", path: true },
  "decrypt": { type: "boolean" },
  "bundle-max": { type: "string" },
  "bundle-wait-ms": { type: "string" },
  "ops-listen": { type: "string" },
  "parent-probe-interval": { type: "string" },
  ...LOG_OPTIONS,
  "help": { type: "boolean", short: "h" },
  ...UPLOAD_RUN_OPTIONS,
  ...SPOOL_RUN_OPTIONS,
} as const;

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
  /** Requests in flight to the parent; undefined: each forwarder's own default. */
  concurrency: number | undefined;
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
  const { values } = parseFlags(args, RUN_FLAGS);
  if (values.help) return null;

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

  const dataDir = values["data-dir"] ??
    readPath("data-dir", env("MLE_RELAY_DATA_DIR"), defaultRelayDataDir());
  const address = readListenAddress(
    "listen",
    values.listen ?? env("MLE_RELAY_LISTEN") ?? `0.0.0.0:${DEFAULT_PORT}`,
  );
  const ops = readListenAddress(
    "ops-listen",
    values["ops-listen"] ?? env("MLE_RELAY_OPS_LISTEN") ?? `127.0.0.1:${DEFAULT_RELAY_OPS_PORT}`,
  );
  if (ops.port !== 0 && ops.port === address.port) {
    throw new UsageError(
      `Cannot serve operations on the port clients reach (${address.port})`,
      `give --ops-listen another port (default 127.0.0.1:${DEFAULT_RELAY_OPS_PORT})`,
    );
  }

  const authenticating = values.authenticating === true;
  for (const flag of ["password-file", "one-time-passwords"] as const) {
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
  const decrypt = values.decrypt === true;
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
    concurrency: readInteger("concurrency", values.concurrency, undefined, { min: 1, max: 64 }),
    forwardBatchMax: readInteger(
      "forward-batch-max",
      values["forward-batch-max"],
      DEFAULT_FORWARD_BATCH_MAX,
      {
        min: 1,
        max: MAX_REPORT_BATCH_COUNT,
      },
    ),
    log: readLogSettings(values, env, "MLE_RELAY"),
    ops,
    parentProbeIntervalMs: readInteger(
      "parent-probe-interval",
      values["parent-probe-interval"],
      DEFAULT_PARENT_PROBE_INTERVAL_MS / 1000,
      { min: 1, max: 3600, unit: "seconds" },
    ) * 1000,
    revocationIntervalMs: readInteger(
      "revocation-interval",
      values["revocation-interval"],
      DEFAULT_REVOCATION_INTERVAL_SECONDS,
      { min: 1, max: 86_400, unit: "seconds" },
    ) * 1000,
    mastheadFile: values.masthead,
    authenticating,
    passwordFile: values["password-file"],
    oneTimePasswordsFile: values["one-time-passwords"],
    trustedRelayKeys,
    decrypt,
    bundleMax: readInteger("bundle-max", values["bundle-max"], DEFAULT_BUNDLE_MAX, {
      min: 1,
      max: 1000,
    }),
    bundleWaitMs: readInteger("bundle-wait-ms", values["bundle-wait-ms"], DEFAULT_BUNDLE_WAIT_MS, {
      min: 0,
      max: 600_000,
      unit: "milliseconds",
    }),
    uploads: parseUploadRunArgs(values, env),
    spool: parseSpoolRunArgs(values, env),
  };
}
