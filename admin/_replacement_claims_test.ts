import assert from "node:assert/strict";
import type { ComputerRecord } from "../store/mod.ts";
import { computerRecord } from "../store/_test_computer_record.ts";
import { describeReplacementClaim, replacementClaim } from "./_replacement_claims.ts";

function computer(id: number, fields: Partial<ComputerRecord> = {}): ComputerRecord {
  return computerRecord(id, {
    hostIdentity: "instance:a",
    hostname: `host-${id}`,
    registeredAt: 1_000,
    ...fields,
  });
}

const byId = (...computers: ComputerRecord[]) => new Map(computers.map((c) => [c.id, c]));

Deno.test("replacementClaim() is null for a computer that claims nothing", () => {
  assert.equal(replacementClaim(computer(1), byId(computer(1))), null);
});

Deno.test("replacementClaim() says whether the old computer still reports after the claim", () => {
  const claimant = computer(2, { registeredAt: 5_000, claimsToReplace: 1 });
  const stillReporting = computer(1, { lastReportAt: 6_000 });
  assert.deepEqual(replacementClaim(claimant, byId(stillReporting, claimant)), {
    replaces: 1,
    signedByOldKey: false,
    sameHostIdentity: true,
    replacedReportedSince: true,
    replacedLastReportAt: 6_000,
  });
  const silent = computer(1, { lastReportAt: 4_000, hostIdentity: "instance:b" });
  const claim = replacementClaim(claimant, byId(silent, claimant))!;
  assert.deepEqual([claim.sameHostIdentity, claim.replacedReportedSince], [false, false]);
  assert.equal(
    describeReplacementClaim(claimant, claim),
    "computer 2 claims to replace computer 1: not signed by computer 1's key (anyone could send " +
      "this claim); another host identity; computer 1 has not reported since the claim",
  );
});

Deno.test("describeReplacementClaim() names the old key's signature, calls a shared host identity no proof, and names the last report", () => {
  const claimant = computer(2, {
    registeredAt: 5_000,
    claimsToReplace: 1,
    claimSignedByOldKey: true,
  });
  const old = computer(1, { lastReportAt: Date.UTC(2025, 0, 2) });
  const line = describeReplacementClaim(claimant, replacementClaim(claimant, byId(old, claimant))!);
  assert.match(line, /signed by computer 1's key \(the claimant holds it; so may a thief\)/);
  assert.match(line, /the same host identity \(not a proof/);
  assert.match(line, /computer 1 reported after the claim \(last at 2025-01-02T00:00:00Z\)/);
});
