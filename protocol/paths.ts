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
  /** POST: a client's signed registration. */
  register: "/api/v1/register",
  /** POST: one upstream report message (encrypted JWE or signed clear text). */
  reports: "/api/v1/reports",
  /**
   * POST: a report bundle from a decrypting relay the administrator allowed to send them
   * (`protocol/report_bundle.ts`); answered with one outcome per report.
   */
  bundles: "/api/v1/bundles",
  /** GET /api/v1/computers/ID: a registered computer's public key and whether it is revoked. */
  computers: "/api/v1/computers",
  /** GET: the server's counters (RSA private-key operations, reports stored). */
  metrics: "/api/v1/metrics",
  /**
   * Uploads (`protocol/upload.ts`): GET the upstream limits; POST a manifest; GET
   * `/CID/UPLOAD-ID` the status; PUT `/CID/UPLOAD-ID/INDEX` one chunk.
   */
  uploads: "/api/v1/uploads",
} as const;

/** The default port, as the original's. */
export const DEFAULT_PORT = 52311;
