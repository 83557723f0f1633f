/**
 * The HTTP paths every role speaks. Relays serve the same paths as the server, so a client (or a
 * relay) never needs to know what its parent is.
 *
 * @module
 */

/** Paths of the upstream and downstream API. */
export const API = {
  /** GET: what the answering process accepts (encrypted documents, authentication). */
  capabilities: "/api/v1/capabilities",
  /** GET: the site-signed masthead. */
  masthead: "/api/v1/masthead",
  /** GET: the site-signed encryption certificate (or the signed statement that MLE is off). */
  encryptionCertificate: "/api/v1/encryption-certificate",
  /** GET ?computer=ID: the site-signed settings documents for a computer. */
  settings: "/api/v1/settings",
  /**
   * GET ?computer=ID: the site-signed rotation directive when it asks that computer to rotate its
   * keys (else 404 `ERR_NO_ROTATION`).
   */
  rotationDirective: "/api/v1/rotation-directive",
  /** GET: the site-signed revocation list. */
  revocations: "/api/v1/revocations",
  /**
   * GET: the manual key exchange's parameters (`protocol/key_exchange.ts`): the salts of the
   * authenticating relays a registration through here passes.
   */
  keyExchange: "/api/v1/key-exchange",
  /** POST: a client's signed registration. */
  register: "/api/v1/register",
  /** POST: one upstream report message (encrypted JWE or signed clear text). */
  reports: "/api/v1/reports",
  /**
   * POST: many client envelopes, untouched, from a relay (`protocol/report_batch.ts`), when the
   * parent announces `acceptsReportBatches`; answered with one outcome per envelope.
   */
  reportBatch: "/api/v1/reports/batch",
  /**
   * POST: a report bundle from a decrypting relay the administrator allowed to send them
   * (`protocol/report_bundle.ts`); answered with one outcome per report.
   */
  bundles: "/api/v1/bundles",
  /**
   * GET /api/v1/computers/ID: a registered computer's public key and whether it may send; only to
   * an allowed relay, by a request signed with its key (`protocol/relay_request.ts`).
   */
  computers: "/api/v1/computers",
  /**
   * GET: the server's counters (RSA private-key operations, reports stored), on its operations
   * listener only ({@linkcode OPS_PATHS}), never on the port clients reach.
   */
  metrics: "/api/v1/metrics",
  /**
   * Uploads (`protocol/upload.ts`): GET the upstream limits; POST a manifest; GET
   * `/CID/UPLOAD-ID` the status; PUT `/CID/UPLOAD-ID/INDEX` one chunk.
   */
  uploads: "/api/v1/uploads",
} as const;

/** The default port, as the original's. */
export const DEFAULT_PORT = 52311;

/**
 * Paths of the operations listener of the server and of each relay (`--ops-listen`, loopback by
 * default): for operators and monitoring, apart from the port clients reach.
 */
export const OPS_PATHS = {
  /** GET: the server's counters as JSON (what the benchmark reads; the server only). */
  metrics: API.metrics,
  /** GET: the metrics in the Prometheus text format. */
  prometheus: "/metrics",
  /** GET: 200 while the process runs. */
  health: "/healthz",
  /** GET: 200 when ready to take work, else 503 with the reasons. */
  ready: "/readyz",
} as const;

/** The server's operations listener's default port: the one after {@linkcode DEFAULT_PORT}. */
export const DEFAULT_OPS_PORT = 52312;

/** The web console's default port (`mle-server run --console-listen`): the one after the ops port. */
export const DEFAULT_CONSOLE_PORT = 52313;
/** A relay's operations listener's default port (after the server's ops and console ports). */
export const DEFAULT_RELAY_OPS_PORT = 52314;
