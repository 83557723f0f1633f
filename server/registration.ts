/**
 * Registration: a client proves possession of its key; the server binds a computer id to it.
 * Registering the same key again returns the same id (a resend after a lost answer).
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { verifyRegistration } from "../protocol/registration.ts";
import type { Store } from "../store/store.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import { IngestError } from "./ingest_error.ts";

/** How far a registration's time may be from the server's, in milliseconds. */
export const REGISTRATION_MAX_SKEW_MS = 24 * 60 * 60 * 1000;

/** The answer to a registration. */
export interface RegistrationResult {
  computerId: number;
  created: boolean;
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
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new IngestError(400, "ERR_ENVELOPE_MALFORMED", "Cannot read registration: not JSON");
  }
  let claims;
  try {
    ({ claims } = await verifyRegistration(value));
  } catch (error) {
    if (!(error instanceof MleError)) throw error;
    const status = error.code === "ERR_SIGNATURE_INVALID" ? 403 : 400;
    throw new IngestError(status, error.code, error.message);
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
  if (existing) return { computerId: existing.id, created: false };
  const record = await context.store.registerComputer({
    publicKey: claims.publicKey,
    hostIdentity: claims.hostIdentity,
    hostname: claims.hostname,
    registeredAt: now,
  });
  await context.computers.put(record);
  return { computerId: record.id, created: true };
}
