/**
 * Site-signed decisions about one computer (`protocol/computer_decision.ts`), checked and recorded
 * in one place for both signers: `mle-admin computers confirm` and `relays allow|disallow` sign
 * with the site key file, the web console signs in the browser, and both hand the signed document
 * to {@linkcode recordComputerDecision}. The serial makes each document good for one use: the store
 * records it as the next "computer-decision" in one transaction, so a replayed one is stale.
 *
 * Also home of {@linkcode DecisionError}, the refusal of any signed decision the console records.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { readUnverifiedBody } from "../envelope/signed_document.ts";
import {
  type ComputerDecision,
  type ComputerDecisionAction,
  signComputerDecision,
  verifyComputerDecision,
} from "../protocol/computer_decision.ts";
import type { ComputerRecord, Store } from "./store.ts";

/** How far from the recording host's clock a computer decision's `issuedAt` may be. */
export const MAX_COMPUTER_DECISION_AGE_MS = 10 * 60_000;

/** Why a signed decision was refused: a stable code, the HTTP status, a message saying what to do. */
export class DecisionError extends Error {
  readonly code: "ERR_DECISION_INVALID" | "ERR_DECISION_STALE";
  readonly status: 400 | 409;

  constructor(code: DecisionError["code"], message: string) {
    super(message);
    this.name = "DecisionError";
    this.code = code;
    this.status = code === "ERR_DECISION_STALE" ? 409 : 400;
  }
}

/** What a recorded computer decision changed. */
export interface RecordedComputerDecision {
  decision: ComputerDecision;
  computer: ComputerRecord;
  /** Confirming a computer that claims to replace another revokes that one: its id, if newly. */
  revokedReplaced: number | null;
  /** False when the computer was already as decided (the decision is recorded all the same). */
  changed: boolean;
}

/** The serial of the last computer decision recorded (0 when none). */
async function lastDecisionSerial(store: Store): Promise<number> {
  const text = await store.getDocument("computer-decision");
  const serial = text === null ? 0 : readUnverifiedBody(text)?.serial;
  return typeof serial === "number" ? serial : 0;
}

/**
 * The body to sign for a decision on `computerId`, with the next serial.
 *
 * @throws {DecisionError} When the computer does not exist, or may not be allowed (revoked).
 */
export async function computerDecisionDraft(
  store: Store,
  action: ComputerDecisionAction,
  computerId: number,
  now: number,
): Promise<ComputerDecision> {
  await decidableComputer(store, action, computerId);
  return { action, computerId, serial: (await lastDecisionSerial(store)) + 1, issuedAt: now };
}

async function decidableComputer(
  store: Store,
  action: ComputerDecisionAction,
  id: number,
): Promise<ComputerRecord> {
  const computer = await store.getComputer(id);
  if (computer === null) {
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      `Cannot decide on computer ${id}: no such computer`,
    );
  }
  if (
    action === "allow-bundles" && (computer.revokedAt !== null || computer.removedAt !== null)
  ) {
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      `Cannot allow computer ${id} to send bundles: it was revoked or removed`,
    );
  }
  return computer;
}

/**
 * Verifies a signed computer decision against the site key, records it with its serial (once:
 * a replay or a decision signed before another was recorded is stale) and applies it: confirm
 * clears the flag and revokes the computer it claims to replace; allow-bundles and
 * disallow-bundles change the `bundle_senders`.
 *
 * @throws {DecisionError} Not signed by the site key, bad fields, unknown computer, signed more
 * than 10 minutes from `now` (400), or its serial is not the next (409).
 */
export async function recordComputerDecision(
  store: Store,
  siteKey: CryptoKey,
  document: unknown,
  now: number,
): Promise<RecordedComputerDecision> {
  let decision: ComputerDecision;
  try {
    decision = await verifyComputerDecision(siteKey, document);
  } catch (error) {
    if (!(error instanceof MleError)) throw error;
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      `${error.message}; sign it with this site's license.pvk`,
    );
  }
  if (Math.abs(decision.issuedAt - now) > MAX_COMPUTER_DECISION_AGE_MS) {
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      "Cannot record the decision: it was signed more than 10 minutes from this host's clock; " +
        "check the signing computer's clock and sign again",
    );
  }
  const computer = await decidableComputer(store, decision.action, decision.computerId);
  const stale = (due: number) =>
    new DecisionError(
      "ERR_DECISION_STALE",
      `Cannot record the decision: it carries serial ${decision.serial}, the next is ${due} ` +
        "(it was recorded already, or another decision was recorded meanwhile); reload and sign " +
        "again",
    );
  const due = (await lastDecisionSerial(store)) + 1;
  if (decision.serial !== due) throw stale(due);
  await store.recordDocument("computer-decision", (serial) => {
    if (serial !== decision.serial) throw stale(serial);
    return Promise.resolve(JSON.stringify(document));
  });
  let revokedReplaced: number | null = null;
  let changed: boolean;
  if (decision.action === "confirm") {
    const old = computer.claimsToReplace;
    if (old !== null && await store.revokeComputer(old, now)) revokedReplaced = old;
    changed = computer.flagged !== null || revokedReplaced !== null;
    await store.flagComputer(computer.id, null);
  } else {
    const allowed = decision.action === "allow-bundles";
    changed = (await store.isBundleSender(computer.id)) !== allowed;
    if (changed) await store.setBundleSender(computer.id, allowed, now);
  }
  return { decision, computer, revokedReplaced, changed };
}

/**
 * Signs a decision with the site key held here (`mle-admin`) and records it through
 * {@linkcode recordComputerDecision}, the path the console's browser-signed ones take.
 */
export async function signAndRecordComputerDecision(
  store: Store,
  site: { privateKey: CryptoKey; publicKey: CryptoKey },
  action: ComputerDecisionAction,
  computerId: number,
  now: number,
): Promise<RecordedComputerDecision> {
  const draft = await computerDecisionDraft(store, action, computerId, now);
  const document = await signComputerDecision(site.privateKey, draft);
  return await recordComputerDecision(store, site.publicKey, document, now);
}
