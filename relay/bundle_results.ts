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
