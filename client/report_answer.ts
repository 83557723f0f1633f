/**
 * What a parent's answer to one report means to the client: the one reading of that answer, as a
 * discriminated union the agent acts on (`agent.ts`), never a string compared by hand.
 *
 * @module
 */

import { readErrorAnswer } from "../protocol/http_error.ts";
import { parseRetryAfter } from "../protocol/upload_fetch.ts";
import type { WireErrorCode } from "../protocol/wire_error_codes.ts";

/** A parent's answer to one report, read. */
export type ReportAnswer =
  /** Stored, or already stored (`ERR_DUPLICATE_REPORT`): leave the queue. */
  | { kind: "delivered" }
  /** The server does not know the certificate's key (`ERR_UNKNOWN_KEY_ID`): fetch it again. */
  | { kind: "retry-with-new-certificate" }
  /** The server does not know this computer (`ERR_UNKNOWN_COMPUTER`): register again. */
  | { kind: "reregister" }
  /** An authenticating relay has not admitted this client: `mle-client register` first. */
  | { kind: "key-exchange-required"; said: string }
  /** The parent takes no encrypted reports (a legacy relay): decide again, which may hold. */
  | { kind: "encryption-refused" }
  /**
   * Busy or failing (5xx, 429): the next parent may take it; the report stays queued.
   * `retryAfterMs`: its `Retry-After` (capped), which the next cycle honours, else null.
   */
  | { kind: "busy"; status: number; said: string; retryAfterMs: number | null }
  /**
   * Refused. `forGood`: the report itself is wrong and goes to `queue/rejected`; otherwise it is
   * about the sender or the site's policy (revoked, clear text refused) and stays queued.
   */
  | { kind: "refused"; status: number; code: WireErrorCode | null; said: string; forGood: boolean };

/**
 * Reads a parent's answer to a report (`encrypted`: whether it was sent encrypted).
 *
 * @example
 * ```ts
 * import { readReportAnswer } from "./report_answer.ts";
 * readReportAnswer({ status: 202, body: { status: "spooled" } }, true); // { kind: "delivered" }
 * const body = { error: { code: "ERR_UNKNOWN_COMPUTER", message: "register again" } };
 * readReportAnswer({ status: 403, body }, true); // { kind: "reregister" }
 * ```
 */
export function readReportAnswer(
  answer: { status: number; body: unknown; retryAfter?: string },
  encrypted: boolean,
): ReportAnswer {
  const { status } = answer;
  const error = readErrorAnswer(answer.body);
  const code = error.kind === "known" ? error.code : null;
  if ((status >= 200 && status < 300) || code === "ERR_DUPLICATE_REPORT") {
    return { kind: "delivered" };
  }
  const said = error.message === "" ? `HTTP ${status}` : error.message;
  switch (code) {
    case "ERR_UNKNOWN_KEY_ID":
      return { kind: "retry-with-new-certificate" };
    case "ERR_UNKNOWN_COMPUTER":
      return { kind: "reregister" };
    case "ERR_KEY_EXCHANGE_REQUIRED":
      return { kind: "key-exchange-required", said };
    case "ERR_ENCRYPTION_NOT_SUPPORTED":
      return encrypted
        ? { kind: "encryption-refused" }
        : { kind: "refused", status, code, said, forGood: false };
  }
  if (status >= 500 || status === 429) {
    return { kind: "busy", status, said, retryAfterMs: parseRetryAfter(answer.retryAfter ?? null) };
  }
  const aboutTheSender = code === "ERR_COMPUTER_REVOKED" || code === "ERR_CLEAR_TEXT_REFUSED";
  return { kind: "refused", status, code, said, forGood: !aboutTheSender };
}

/** A report's answer once the agent has acted on it: busy parents and key exchanges are thrown. */
export type SentAnswer = Exclude<
  ReportAnswer,
  { kind: "busy" } | { kind: "key-exchange-required" }
>;

/**
 * Says why report `seq` was not delivered, in the operator's words (never an outcome's name),
 * after the agent did what the answer asked (a new certificate, a new registration) once.
 */
export function describeUndelivered(
  seq: number,
  answer: Exclude<SentAnswer, { kind: "delivered" }>,
  held: { computerId: number | null; serverKid: string | null },
): string {
  switch (answer.kind) {
    case "retry-with-new-certificate":
      return `the server does not know the key of its own newest certificate ` +
        `(${held.serverKid ?? "none"}); reports stay queued`;
    case "reregister":
      return `the server does not know computer ${held.computerId} even after it registered ` +
        `again; reports stay queued`;
    case "encryption-refused":
      return `the parent refused encrypted report ${seq}; reports stay queued`;
    case "refused":
      if (answer.forGood) {
        return `the server refused report ${seq} for good (kept in queue/rejected): ${answer.said}`;
      }
      return answer.code === "ERR_ENCRYPTION_NOT_SUPPORTED"
        ? `the parent refused report ${seq}: ${answer.said}`
        : `the server refused report ${seq}: ${answer.said}`;
  }
}
