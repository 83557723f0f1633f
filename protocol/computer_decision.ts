/**
 * A decision about one computer that the site signs (`typ` `mle-computer-decision`): confirm a
 * flagged computer, or allow or stop allowing a decrypting relay's report bundles. The serial is
 * the store's next one for these decisions (`Store.recordDocument("computer-decision")`), so a
 * signed decision is recorded at most once: a replay carries a serial already used. Signed by
 * `mle-admin computers confirm` / `relays allow|disallow` and by the console in the browser;
 * checked the same way for both (`store/computer_decisions.ts`).
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";

/** The actions a computer decision takes. */
export const COMPUTER_DECISION_ACTIONS = ["confirm", "allow-bundles", "disallow-bundles"] as const;

/** One of {@linkcode COMPUTER_DECISION_ACTIONS}. */
export type ComputerDecisionAction = typeof COMPUTER_DECISION_ACTIONS[number];

/** The signed body. */
export interface ComputerDecision {
  action: ComputerDecisionAction;
  computerId: number;
  /** The store's next serial for computer decisions (1, 2, 3…). */
  serial: number;
  /** Milliseconds since the epoch, by the signing host's clock. */
  issuedAt: number;
}

/** True for one of {@linkcode COMPUTER_DECISION_ACTIONS}. */
export function isComputerDecisionAction(value: unknown): value is ComputerDecisionAction {
  return (COMPUTER_DECISION_ACTIONS as readonly unknown[]).includes(value);
}

function validId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * Signs a computer decision with the site key.
 *
 * @example
 * ```ts ignore
 * const document = await signComputerDecision(site.privateKey, {
 *   action: "confirm", computerId: 12, serial: 3, issuedAt: Date.now(),
 * });
 * ```
 */
export async function signComputerDecision(
  sitePrivateKey: CryptoKey,
  decision: ComputerDecision,
): Promise<SignedDocument> {
  if (
    !isComputerDecisionAction(decision.action) || !validId(decision.computerId) ||
    !validId(decision.serial) || !Number.isSafeInteger(decision.issuedAt)
  ) {
    throw new RangeError("Cannot sign the computer decision: bad fields");
  }
  const { action, computerId, serial, issuedAt } = decision;
  return await signDocument(sitePrivateKey, "mle-computer-decision", {
    action,
    computerId,
    serial,
    issuedAt,
  });
}

/**
 * Verifies a computer decision against the site key and reads its fields strictly.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`: not signed by the site key, or bad fields.
 */
export async function verifyComputerDecision(
  siteKey: CryptoKey,
  document: unknown,
): Promise<ComputerDecision> {
  const body = await verifyDocument(siteKey, "mle-computer-decision", document);
  const { action, computerId, serial, issuedAt } = body;
  if (
    !isComputerDecisionAction(action) || !validId(computerId) || !validId(serial) ||
    typeof issuedAt !== "number" || !Number.isSafeInteger(issuedAt) ||
    Object.keys(body).length !== 4
  ) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      "Cannot read the computer decision: expected action (confirm, allow-bundles or " +
        "disallow-bundles), computerId, serial and issuedAt",
    );
  }
  return { action, computerId, serial, issuedAt };
}
