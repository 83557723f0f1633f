/**
 * Log text for a parent that did not answer.
 *
 * @module
 */

import type { ParentUnreachableError } from "../protocol/bounded_fetch.ts";

/** The error's message with its cause (refused, reset, timed out, answer too large). */
export function describeUnreachable(error: ParentUnreachableError): string {
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause ? `${error.message}: ${cause}` : error.message;
}
