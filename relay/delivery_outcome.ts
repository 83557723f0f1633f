/**
 * What a parent's answer means for one spooled message, and acting on it: the one reading shared
 * by the spool's forwarder (`relay/forwarder.ts`, alone or in a batch) and the decrypting one
 * (`relay/decrypting_forwarder.ts`, for what it forwards untouched).
 *
 * - 2xx: the parent has it; delete it.
 * - 409 `ERR_DUPLICATE_REPORT`: the parent already had it (a resend after a lost
 *   acknowledgement); delete it.
 * - 408, 429, 5xx, anything else: the parent is busy or failing; keep it and retry later.
 * - any other 4xx: the parent will never take it; move it to `rejected/` with the reason and log
 *   once. Never dropped silently, never retried forever.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import type { Spool } from "./spool.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";

/** The error code by which a parent says it already stores a report. */
export const DUPLICATE_REPORT_CODE = "ERR_DUPLICATE_REPORT";

/** What a parent's answer means for a spooled message, with what each case needs. */
export type DeliveryOutcome =
  /** The parent stored it: delete it. */
  | { kind: "delivered"; status: number }
  /** The parent already had it: delete it. */
  | { kind: "duplicate"; status: number }
  /** The parent will never take it: `rejected/`, with its status, code and message. */
  | { kind: "rejected"; status: number; code: string; message: string }
  /** The parent is busy or failing: keep it, back off. */
  | { kind: "retry"; reason: string };

/** A parent's answer to one message. */
export interface MessageAnswer {
  status: number;
  body: unknown;
}

/** Counts of the outcomes since start, for logs, metrics and tests. */
export interface ForwarderStats {
  delivered: number;
  duplicates: number;
  rejected: number;
  failures: number;
}

/**
 * Reads what the parent's answer to a report means for it.
 *
 * @example
 * ```ts
 * import { deliveryOutcome } from "./delivery_outcome.ts";
 * const body = { error: { code: "ERR_DUPLICATE_REPORT", message: "Already stored" } };
 * console.log(deliveryOutcome({ status: 409, body }).kind); // "duplicate"
 * ```
 */
export function deliveryOutcome(answer: MessageAnswer): DeliveryOutcome {
  const { status, body } = answer;
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    const code = errorCodeOf(body);
    if (status === 409 && code === DUPLICATE_REPORT_CODE) return { kind: "duplicate", status };
    const said = (body as { error?: { message?: unknown } } | null)?.error?.message;
    const message = typeof said === "string" ? said.slice(0, 500) : "";
    return { kind: "rejected", status, code: code ?? "none", message };
  }
  return { kind: "retry", reason: `parent answered ${status}` };
}

/** Where a settled message's outcome is acted on. */
export interface SettlementTarget {
  spool: Pick<Spool, "remove" | "reject">;
  log: Logger;
  /** Counted into. */
  stats: ForwarderStats;
  /** Where refusals of a sender are remembered, for its next reports. */
  refusals?: Pick<UpstreamRefusals, "noteRefusal">;
}

/**
 * Acts on one spooled message's answer: removes it (stored or duplicate), moves it to
 * `rejected/` with the parent's status, code and message beside it (refused for good; the
 * refusal of its sender remembered), or keeps it (retry: the caller backs off).
 *
 * @returns What the answer meant.
 */
export async function settleMessage(
  target: SettlementTarget,
  id: string,
  bytes: Uint8Array,
  answer: MessageAnswer,
): Promise<DeliveryOutcome> {
  const outcome = deliveryOutcome(answer);
  switch (outcome.kind) {
    case "delivered":
    case "duplicate":
      await target.spool.remove(id);
      target.stats[outcome.kind === "delivered" ? "delivered" : "duplicates"] += 1;
      target.log.debug(`message ${outcome.kind}`, { id, status: outcome.status });
      break;
    case "rejected":
      await target.spool.reject(
        id,
        `parent answered ${outcome.status} ${outcome.code}${
          outcome.message ? `: ${outcome.message}` : ""
        }`,
      );
      target.log.warn("parent refused a message for good; moved it to rejected/", {
        id,
        status: outcome.status,
        code: outcome.code,
      });
      target.refusals?.noteRefusal(bytes, answer);
      target.stats.rejected += 1;
      break;
    case "retry":
      break;
  }
  return outcome;
}
