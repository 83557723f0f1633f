/**
 * The capability answer: what the answering server or relay accepts. A client whose level is
 * `required` sends nothing to a parent that does not accept encrypted documents (seed 001).
 *
 * @module
 */

/** What a parent says about itself. */
export interface Capabilities {
  role: "server" | "relay";
  acceptsEncryptedReports: boolean;
  authenticating: boolean;
  decrypting: boolean;
  /** Whether `POST /api/v1/reports/batch` takes many envelopes in one request. */
  acceptsReportBatches: boolean;
  version: string;
}

/** Reads a capability answer, treating anything unknown as "does not accept encrypted reports". */
export function readCapabilities(value: unknown): Capabilities {
  const v = (value ?? {}) as Partial<Capabilities>;
  return {
    role: v.role === "server" ? "server" : "relay",
    acceptsEncryptedReports: v.acceptsEncryptedReports === true,
    authenticating: v.authenticating === true,
    decrypting: v.decrypting === true,
    acceptsReportBatches: v.acceptsReportBatches === true,
    version: typeof v.version === "string" ? v.version.slice(0, 64) : "unknown",
  };
}
