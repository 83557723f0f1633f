/**
 * The server's per-report results of a decrypting relay's bundle (`POST /api/v1/bundles`), read
 * into a typed union: what the relay does with each spooled report depends only on this.
 *
 * @module
 */

/** What the server said of one report in a bundle (`results[i]` of its answer). */
export type BundleReportResult =
  /** Stored now, or already: remove it from the spool. */
  | { kind: "stored" | "duplicate" }
  /** Refused for good: `rejected/`, with the server's code and message. */
  | { kind: "refused"; code: string; message: string }
  /** Anything else: it stays spooled for the next round. */
  | { kind: "unread" };

/**
 * Reads the server's per-report results of a bundle answer, or null when the answer is not one
 * result per report.
 *
 * @example
 * ```ts
 * import { readBundleResults } from "./bundle_results.ts";
 * const results = readBundleResults({ results: [{ status: "stored" }] }, 1);
 * console.log(results?.[0].kind); // "stored"
 * ```
 */
export function readBundleResults(body: unknown, count: number): BundleReportResult[] | null {
  const results = (body as { results?: unknown } | null)?.results;
  if (!Array.isArray(results) || results.length !== count) return null;
  return results.map((value): BundleReportResult => {
    const result = value as { status?: unknown; code?: unknown; message?: unknown } | null;
    switch (result?.status) {
      case "stored":
      case "duplicate":
        return { kind: result.status };
      case "refused":
        return {
          kind: "refused",
          code: typeof result.code === "string" ? result.code : "none",
          message: typeof result.message === "string" ? result.message.slice(0, 300) : "",
        };
      default:
        return { kind: "unread" };
    }
  });
}

/** What a decrypting relay does when the server refused a bundle as a whole. */
export interface BundleRefusal {
  /** How long its reports go untouched (no bundles) before it tries again. */
  pauseMs: number;
  /** Why, as the relay logs it once, with what the operator can do. */
  reason: string;
  /** What to do first: forget its computer id, or fetch the certificate again. */
  then: "register-again" | "fetch-certificate" | null;
}

/**
 * Reads the server's refusal of a whole bundle (any answer but 200, 408, 429 and 5xx).
 *
 * @example
 * ```ts
 * import { bundleRefusal } from "./bundle_results.ts";
 * console.log(bundleRefusal(403, "ERR_RELAY_NOT_ALLOWED", 7).reason.includes("relays allow 7")); // true
 * ```
 */
export function bundleRefusal(status: number, code: string, relayId: number): BundleRefusal {
  switch (code) {
    case "ERR_RELAY_NOT_ALLOWED":
      return {
        pauseMs: 30_000,
        reason: `the server does not accept bundles from this relay (computer ${relayId}) yet; ` +
          `allow it with: mle-admin relays allow ${relayId} --site-key FILE`,
        then: null,
      };
    case "ERR_UNKNOWN_COMPUTER":
      return {
        pauseMs: 5_000,
        reason: "the server no longer knows this relay; registering again",
        then: "register-again",
      };
    case "ERR_UNKNOWN_KEY_ID":
      return {
        pauseMs: 5_000,
        reason: "the server does not hold the key bundles were encrypted to",
        then: "fetch-certificate",
      };
    default:
      return {
        pauseMs: 5 * 60_000,
        reason: `the server refused a bundle (${status} ${code}); forwarding reports untouched`,
        then: null,
      };
  }
}
