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

Deno.test("decideEncryption() says why a report is held, and whether another parent could take it", () => {
  const noCertificate = decideEncryption({
    level: "required",
    hasCertificate: false,
    parentAcceptsEncrypted: true,
    legacyRelaysAllowed: false,
  });
  assert.ok(noCertificate.action === "hold");
  assert.equal(noCertificate.cause, "no-certificate");
  assert.match(noCertificate.reason, /no deployed encryption certificate/);

  const oldRelay = decideEncryption({
    level: "required",
    hasCertificate: true,
    parentAcceptsEncrypted: false,
    legacyRelaysAllowed: false,
  });
  assert.ok(oldRelay.action === "hold");
  assert.equal(oldRelay.cause, "parent-refuses-encryption");
  assert.match(oldRelay.reason, /does not accept encrypted reports/);

  const downgraded = decideEncryption({
    level: "optional",
    hasCertificate: true,
    parentAcceptsEncrypted: false,
    legacyRelaysAllowed: false,
  });
  assert.ok(downgraded.action === "hold");
  assert.equal(downgraded.cause, "parent-refuses-encryption");
  assert.match(
    downgraded.reason,
    /does not take encrypted reports although the site enabled encryption/,
  );
  assert.match(downgraded.hint, /_BESClient_Report_Encryption_AllowLegacyRelays=1/);
});
