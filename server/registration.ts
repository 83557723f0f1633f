/**
 * Registration: a client proves possession of its key; the server binds a computer id to it.
 * Registering the same key again returns the same id (a resend after a lost answer).
 *
 * After a key rotation the registration may carry the old key's hand-over: the old computer is then
 * linked as "replaced by" the new one and refused from then on. After a rotation with
 * `--compromised`, no hand-over is trusted: the old computer is revoked on arrival (only when the
 * claim comes from the same machine identity, so nobody can revoke other computers by claiming to
 * replace them) and the new entry is flagged for the operator to confirm. Otherwise, an earlier
 * registration of the same machine identity is marked as a duplicate of the new one. The machine
 * identity is never a credential: only the key is.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { verifyHandover } from "../protocol/handover.ts";
import { type RegistrationClaims, verifyRegistration } from "../protocol/registration.ts";
import type { ComputerRecord, Store } from "../store/store.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import { IngestError, parseJsonBody } from "./ingest_error.ts";

/** How far a registration's time may be from the server's, in milliseconds. */
export const REGISTRATION_MAX_SKEW_MS = 24 * 60 * 60 * 1000;

/** The answer to a registration. */
export interface RegistrationResult {
  computerId: number;
  created: boolean;
  /** What happened to an earlier computer of this client, for the log. */
  linked: { oldComputerId: number; how: "replaced" | "revoked" | "duplicate" }[];
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

  // Check a hand-over before recording anything, so a bad one registers nothing.
  let handedOver: ComputerRecord | null = null;
  if (claims.handover !== undefined) handedOver = await checkHandover(claims, context, now);

  const { store } = context;
  const record = await store.registerComputer({
    publicKey: claims.publicKey,
    hostIdentity: claims.hostIdentity,
    hostname: claims.hostname,
    registeredAt: now,
  });
  const linked: RegistrationResult["linked"] = [];
  if (handedOver) {
    await store.linkComputers(handedOver.id, record.id, "replaced_by");
    linked.push({ oldComputerId: handedOver.id, how: "replaced" });
  } else if (claims.compromised && claims.previousComputerId !== undefined) {
    const old = await store.getComputer(claims.previousComputerId);
    if (old && old.hostIdentity === claims.hostIdentity && old.id !== record.id) {
      await store.revokeComputer(old.id, now);
      linked.push({ oldComputerId: old.id, how: "revoked" });
      await store.flagComputer(
        record.id,
        `registered after a compromised-key rotation of computer ${old.id} (revoked); confirm with: mle-admin computers confirm ${record.id}`,
      );
    } else {
      await store.flagComputer(
        record.id,
        `claims to replace computer ${claims.previousComputerId} after a compromise, from another machine identity; nothing was revoked`,
      );
    }
  }
  if (linked.length === 0) {
    for (const other of await store.findComputersByHostIdentity(claims.hostIdentity)) {
      if (other.id === record.id || other.replacedBy !== null || other.revokedAt !== null) continue;
      await store.linkComputers(other.id, record.id, "duplicate_of");
      linked.push({ oldComputerId: other.id, how: "duplicate" });
    }
  }
  for (const { oldComputerId } of linked) {
    const old = await store.getComputer(oldComputerId);
    if (old) await context.computers.put(old);
  }
  await context.computers.put(record);
  return { computerId: record.id, created: true, linked };
}

async function checkHandover(
  claims: RegistrationClaims,
  context: { computers: ComputerDirectory },
  now: number,
): Promise<ComputerRecord> {
  const refuse = (message: string) =>
    new IngestError(403, "ERR_HANDOVER_INVALID", `Cannot accept hand-over: ${message}`);
  let oldId: unknown;
  try {
    oldId = JSON.parse(
      new TextDecoder().decode(Uint8Array.fromBase64(
        (claims.handover as { payload: string }).payload,
        { alphabet: "base64url" },
      )),
    )?.oldComputerId;
  } catch {
    throw refuse("it is not a signed hand-over");
  }
  if (!Number.isSafeInteger(oldId)) throw refuse("it names no computer id");
  const old = await context.computers.get(oldId as number);
  if (!old) throw refuse(`computer ${oldId} is not registered here`);
  if (old.record.revokedAt !== null || old.record.replacedBy !== null) {
    throw refuse(`computer ${oldId} was revoked or already replaced`);
  }
  let handover;
  try {
    handover = await verifyHandover(old.publicKey, claims.handover);
  } catch {
    throw refuse(`it is not signed by computer ${oldId}'s key`);
  }
  if (handover.newPublicKey !== claims.publicKey) {
    throw refuse("it vouches for another key than the one registering");
  }
  if (Math.abs(now - handover.issuedAt) > REGISTRATION_MAX_SKEW_MS * 30) {
    throw refuse("it is more than 30 days old");
  }
  return old.record;
}

function fromMleError(error: unknown): IngestError {
  if (!(error instanceof MleError)) throw error;
  const status = error.code === "ERR_SIGNATURE_INVALID" ? 403 : 400;
  return new IngestError(status, error.code, error.message);
}
