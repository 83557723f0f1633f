/**
 * The evidence the operator is shown about a registration that claims to replace another
 * computer (after `mle-client rotate-keys --compromised`). The claim itself proves nothing: the
 * old key cannot sign for a compromised rotation, and the host identity travels in clear. What
 * the operator can weigh is whether the old key signed a statement for the new one (so the claimant
 * holds it), whether the two registrations share a host identity and, above all, whether the old
 * computer kept reporting after the claim (a genuine rotation deletes the old key).
 *
 * @module
 */

import type { ComputerRecord } from "../store/mod.ts";
import { formatTime } from "./_format.ts";

/** A claim to replace another computer, with its evidence. */
export interface ReplacementClaim {
  /** The computer the claimant says it replaces. */
  replaces: number;
  /**
   * The old computer's key signed a statement for the claimant's key: the claimant holds the old
   * key, as the genuine machine does (and so might a thief of it); without it, anyone could claim.
   */
  signedByOldKey: boolean;
  /** Both registrations gave the same host identity (a hint, not a proof: it is not secret). */
  sameHostIdentity: boolean;
  /** The claimed computer reported after the claimant registered: its key is still in use. */
  replacedReportedSince: boolean;
  /** When the claimed computer last reported, or null. */
  replacedLastReportAt: number | null;
}

/**
 * The claim `computer` makes, with its evidence from `computers`, or null when it makes none.
 *
 * @example
 * ```ts
 * import { replacementClaim } from "./_replacement_claims.ts";
 * console.log(replacementClaim({ claimsToReplace: null } as never, new Map())); // null
 * ```
 */
export function replacementClaim(
  computer: ComputerRecord,
  computers: ReadonlyMap<number, ComputerRecord>,
): ReplacementClaim | null {
  if (computer.claimsToReplace === null) return null;
  const old = computers.get(computer.claimsToReplace);
  const lastReportAt = old?.lastReportAt ?? null;
  return {
    replaces: computer.claimsToReplace,
    signedByOldKey: computer.claimSignedByOldKey,
    sameHostIdentity: old !== undefined && old.hostIdentity !== null &&
      old.hostIdentity === computer.hostIdentity,
    replacedReportedSince: lastReportAt !== null && lastReportAt > computer.registeredAt,
    replacedLastReportAt: lastReportAt,
  };
}

/** One line for the operator: the claim and its evidence. */
export function describeReplacementClaim(
  computer: ComputerRecord,
  claim: ReplacementClaim,
): string {
  const host = claim.sameHostIdentity
    ? "the same host identity (not a proof: anyone can send it)"
    : "another host identity";
  const since = claim.replacedReportedSince
    ? `computer ${claim.replaces} reported after the claim (last at ${
      formatTime(claim.replacedLastReportAt)
    }), so its key is still in use`
    : `computer ${claim.replaces} has not reported since the claim`;
  const signed = claim.signedByOldKey
    ? `signed by computer ${claim.replaces}'s key (the claimant holds it; so may a thief)`
    : `not signed by computer ${claim.replaces}'s key (anyone could send this claim)`;
  return `computer ${computer.id} claims to replace computer ${claim.replaces}: ${signed}; ` +
    `${host}; ${since}`;
}
