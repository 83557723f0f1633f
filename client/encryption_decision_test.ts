import assert from "node:assert/strict";
import { decideEncryption } from "./encryption_decision.ts";

Deno.test("decideEncryption() follows seed 001 for every level and situation", () => {
  const table = [
    // level, certificate, parent accepts → action
    ["required", true, true, "encrypt"],
    ["required", false, true, "hold"],
    ["required", true, false, "hold"],
    ["required", false, false, "hold"],
    ["optional", true, true, "encrypt"],
    ["optional", false, true, "clear"],
    ["optional", true, false, "clear"],
    ["none", true, true, "clear"],
    ["none", false, false, "clear"],
  ] as const;
  for (const [level, hasCertificate, parentAcceptsEncrypted, action] of table) {
    const decision = decideEncryption({ level, hasCertificate, parentAcceptsEncrypted });
    assert.equal(decision.action, action, `${level} ${hasCertificate} ${parentAcceptsEncrypted}`);
  }
});

Deno.test("decideEncryption() says why a required report is held", () => {
  const noCertificate = decideEncryption({
    level: "required",
    hasCertificate: false,
    parentAcceptsEncrypted: true,
  });
  assert.equal(noCertificate.action, "hold");
  assert.match(
    noCertificate.action === "hold" ? noCertificate.reason : "",
    /no deployed encryption certificate/,
  );
  const oldRelay = decideEncryption({
    level: "required",
    hasCertificate: true,
    parentAcceptsEncrypted: false,
  });
  assert.match(
    oldRelay.action === "hold" ? oldRelay.reason : "",
    /does not accept encrypted reports/,
  );
});
