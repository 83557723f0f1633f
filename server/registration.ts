/**
 * Registration: a client proves possession of its key; the server binds a computer id to it.
 * Registering the same key again returns the same id (a resend after a lost answer).
 *
 * Only a key is a credential. A registration links itself to an old computer only through a
 * hand-over signed by the old computer's key (a key rotation without `--compromised`): the old
 * computer is then "replaced by" the new one and refused from then on, except for its reports
 * numbered up to the last sequence number the hand-over names (made before the rotation, maybe
 * still in a relay's spool). Everything else a
 * registration says about other computers is a claim, and claims act on nobody: the host identity
 * travels in clear and a local user can compute it, and after a compromise the old key proves
 * nothing about who holds it. So a registration naming `previousComputerId` (after `rotate-keys
 * --compromised`) records that claim, with whether the old key signed a statement for the new
 * one (evidence, never acted on), and flags the new entry; the operator revokes the old id by
 * confirming (`mle-admin computers confirm NEW`) or revokes the new one. Earlier registrations of
 * the same host identity are marked as duplicates of the new one, which hides and refuses nothing
 * (`mle-admin computers remove-duplicates` decides by who still reports).
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { checkHandover, type HandoverCheck, handoverComputerId } from "../protocol/handover.ts";
import { type RegistrationClaims, verifyRegistration } from "../protocol/registration.ts";
import { wireCodeOf } from "../protocol/wire_error_codes.ts";
import type { ComputerRecord, Store } from "../store/store.ts";
import type { ComputerDirectory, KnownComputer } from "./computer_directory.ts";
import { IngestError, parseJsonBody } from "./ingest_error.ts";

/** How far a registration's time may be from the server's, in milliseconds. */
export const REGISTRATION_MAX_SKEW_MS = 24 * 60 * 60 * 1000;

/** The answer to a registration. */
export interface RegistrationResult {
  computerId: number;
  created: boolean;
  /**
   * How the new computer relates to earlier ones, for the log: replaced by a signed hand-over,
   * claimed (a claim to replace, for the operator to confirm) or a duplicate (same host identity).
   */
  linked: { oldComputerId: number; how: "replaced" | "claimed" | "duplicate" }[];
}

/**
 * Verifies and records a registration.
 *
 * @throws {IngestError} When the registration is malformed, badly signed or out of time.
 */
export async function registerClient(
  body: Uint8Array,
  context: { store: Store; computers: ComputerDirectory; now: () => number },
): Promise<RegistrationResult> {
  const value = parseJsonBody(body, "registration");
  let claims: RegistrationClaims;
  try {
    ({ claims } = await verifyRegistration(value));
  } catch (error) {
    throw fromMleError(error);
  }
  const now = context.now();
  if (Math.abs(now - claims.issuedAt) > REGISTRATION_MAX_SKEW_MS) {
    throw new IngestError(
      400,
      "ERR_REGISTRATION_EXPIRED",
      "Cannot register: the registration's time is more than a day from the server's; check the clock",
    );
  }
  const existing = await context.store.findComputerByPublicKey(claims.publicKey);
  if (existing) return { computerId: existing.id, created: false, linked: [] };

  // Check a hand-over before recording anything, so a bad one registers nothing. After a
  // compromised-key rotation the old key's statement is only evidence for the operator: the key
  // may be in a thief's hands too.
  const handedOver = claims.handover === undefined || claims.compromised === true
    ? null
    : await acceptHandover(claims, context, now);
  const { store } = context;
  const claimed = handedOver === null && claims.previousComputerId !== undefined
    ? await context.computers.get(claims.previousComputerId)
    : null;
  const record = await store.registerComputer({
    publicKey: claims.publicKey,
    hostIdentity: claims.hostIdentity,
    hostname: claims.hostname,
    registeredAt: now,
    claimsToReplace: claimed?.record.id ?? null,
    claimSignedByOldKey: claimed !== null && claims.handover !== undefined &&
      (await checkHandoverOf(claimed, claims, now)).ok,
  });
  const linked: RegistrationResult["linked"] = [];
  if (handedOver) {
    await store.linkComputers(handedOver.old.id, record.id, "replaced_by", handedOver.lastSeq);
    linked.push({ oldComputerId: handedOver.old.id, how: "replaced" });
  } else {
    if (claims.previousComputerId !== undefined) {
      const old = claimed?.record ?? null;
      await store.flagComputer(record.id, claimFlag(record.id, claims.previousComputerId, old));
      if (old) linked.push({ oldComputerId: old.id, how: "claimed" });
    }
    for (const other of await store.findComputersByHostIdentity(claims.hostIdentity)) {
      if (other.id === record.id || other.id === claimed?.record.id) continue;
      if (other.replacedBy !== null || other.revokedAt !== null) continue;
      await store.linkComputers(other.id, record.id, "duplicate_of");
      linked.push({ oldComputerId: other.id, how: "duplicate" });
    }
  }
  for (const { oldComputerId } of linked) {
    const old = await store.getComputer(oldComputerId);
    if (old) await context.computers.put(old);
  }
  await context.computers.put((await store.getComputer(record.id)) ?? record);
  return { computerId: record.id, created: true, linked };
}

/** The operator's note on a registration that claims to replace computer `oldId`. */
function claimFlag(newId: number, oldId: number, old: ComputerRecord | null): string {
  const inactive = old === null
    ? "which is not registered here"
    : old.revokedAt !== null
    ? "which is already revoked"
    : old.replacedBy !== null
    ? `which was already replaced by computer ${old.replacedBy}`
    : old.removedAt !== null
    ? "which was removed"
    : null;
  if (inactive !== null) {
    return `claims to replace computer ${oldId} after a compromised-key rotation, ${inactive}; ` +
      `nothing was changed; clear this flag with: mle-admin computers confirm ${newId}`;
  }
  return `claims to replace computer ${oldId} after a compromised-key rotation; nothing was ` +
    `revoked: if you expect this rotation, revoke the old id with: mle-admin computers confirm ` +
    `${newId}; if not, revoke this one with: mle-admin computers revoke ${newId}`;
}

async function acceptHandover(
  claims: RegistrationClaims,
  context: { computers: ComputerDirectory },
  now: number,
): Promise<{ old: ComputerRecord; lastSeq: number }> {
  const refuse = (message: string) =>
    new IngestError(403, "ERR_HANDOVER_INVALID", `Cannot accept hand-over: ${message}`);
  const oldId = handoverComputerId(claims.handover);
  if (oldId === null) throw refuse("it is not a signed hand-over naming a computer id");
  const old = await context.computers.get(oldId);
  if (!old) throw refuse(`computer ${oldId} is not registered here`);
  if (old.record.revokedAt !== null || old.record.replacedBy !== null) {
    throw refuse(`computer ${oldId} was revoked or already replaced`);
  }
  const check = await checkHandoverOf(old, claims, now);
  if (!check.ok) throw refuse(check.problem);
  return { old: old.record, lastSeq: check.claims.lastSeq };
}

/** The registration's hand-over checked as a statement of `old`'s key. */
function checkHandoverOf(
  old: KnownComputer,
  claims: RegistrationClaims,
  now: number,
): Promise<HandoverCheck> {
  return checkHandover(old.publicKey, claims.handover, {
    oldComputerId: old.record.id,
    newPublicKey: claims.publicKey,
    now,
  });
}

function fromMleError(error: unknown): IngestError {
  if (!(error instanceof MleError)) throw error;
  const status = error.code === "ERR_SIGNATURE_INVALID" ? 403 : 400;
  return new IngestError(status, wireCodeOf(error.code), error.message);
}
