import assert from "node:assert/strict";
import { decideEncryption } from "./encryption_decision.ts";

Deno.test("decideEncryption() decides for every level and situation, and no unsigned answer alone lowers protection", () => {
  const table = [
    // level, certificate, parent accepts, legacy relays allowed (signed) → action
    ["required", true, true, false, "encrypt"],
    ["required", false, true, false, "hold"],
    ["required", true, false, false, "hold"],
    ["required", true, false, true, "hold"],
    ["required", false, false, true, "hold"],
    ["optional", true, true, false, "encrypt"],
    ["optional", true, true, true, "encrypt"],
    // Never had a certificate, or the newest says disabled: the seed's optional.
    ["optional", false, true, false, "clear"],
    ["optional", false, false, false, "clear"],
    // The site enabled encryption: the parent's unsigned word does not make it clear text…
    ["optional", true, false, false, "hold"],
    // …unless the site allowed it in a signed setting.
    ["optional", true, false, true, "clear"],
    ["none", true, true, false, "clear"],
    ["none", false, false, false, "clear"],
  ] as const;
  for (
    const [level, hasCertificate, parentAcceptsEncrypted, legacyRelaysAllowed, action] of table
  ) {
    const decision = decideEncryption({
      level,
      hasCertificate,
      parentAcceptsEncrypted,
      legacyRelaysAllowed,
    });
    assert.equal(
      decision.action,
      action,
      `${level} ${hasCertificate} ${parentAcceptsEncrypted} ${legacyRelaysAllowed}`,
    );
  }
});

Deno.test("decideEncryption() says why a report is held, and whether another parent could take it", async (t) => {
  const cases = [
    {
      name: "required without a certificate",
      situation: { level: "required", hasCertificate: false, parentAcceptsEncrypted: true },
      cause: "no-certificate",
      reason: /no deployed encryption certificate/,
    },
    {
      name: "required through an old relay",
      situation: { level: "required", hasCertificate: true, parentAcceptsEncrypted: false },
      cause: "parent-refuses-encryption",
      reason: /does not accept encrypted reports/,
    },
    {
      name: "optional, enabled by the site, through an old relay",
      situation: { level: "optional", hasCertificate: true, parentAcceptsEncrypted: false },
      cause: "parent-refuses-encryption",
      reason: /does not take encrypted reports although the site enabled encryption/,
      hint: /_BESClient_Report_Encryption_AllowLegacyRelays=1/,
    },
  ] as const;
  for (const { name, situation, cause, reason, ...expected } of cases) {
    await t.step(name, () => {
      const decision = decideEncryption({ ...situation, legacyRelaysAllowed: false });
      assert.ok(decision.action === "hold");
      assert.equal(decision.cause, cause);
      assert.match(decision.reason, reason);
      if ("hint" in expected) assert.match(decision.hint, expected.hint);
    });
  }
});
