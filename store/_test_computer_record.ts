/**
 * Test support: a computer's record as the store holds it, for the tests of the code that reads
 * records (duplicate groups, replacement claims, rotations, ingest refusals, the store itself).
 *
 * @module
 */

import type { ComputerRecord } from "./store.ts";

/**
 * The record of computer `id` just registered with `key-ID` and never heard from since: nothing
 * reported, revoked, replaced, flagged or claimed; `fields` set the rest.
 */
export function computerRecord(id: number, fields: Partial<ComputerRecord> = {}): ComputerRecord {
  return {
    id,
    publicKey: `key-${id}`,
    hostIdentity: null,
    hostname: null,
    registeredAt: 0,
    lastReportAt: null,
    lastKid: null,
    encryptionLevel: null,
    revokedAt: null,
    replacedBy: null,
    handoverLastSeq: 0,
    duplicateOf: null,
    flagged: null,
    removedAt: null,
    claimsToReplace: null,
    claimSignedByOldKey: false,
    ...fields,
  };
}
