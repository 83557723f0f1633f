import assert from "node:assert/strict";
import { fuzzParser, mleError, signedDocumentCases, signedDocumentOf } from "../tests/fuzz.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import {
  isComputerDecisionAction,
  signComputerDecision,
  verifyComputerDecision,
} from "./computer_decision.ts";

const site = await generateSigningKeyPair();
const BODY = { action: "confirm", computerId: 12, serial: 3, issuedAt: 1_700_000_000_000 };
const SIGNED = await signComputerDecision(site.privateKey, {
  ...BODY,
  action: "confirm",
});

Deno.test("fuzz: verifyComputerDecision() gives a known action and positive ids, or refuses with ERR_DOCUMENT_INVALID", async () => {
  const inputs = signedDocumentCases(SIGNED, BODY, { ...BODY, action: "allow-bundles" });
  await fuzzParser("verifyComputerDecision", inputs, async (input) => {
    const document = await signedDocumentOf(input, site.privateKey, "mle-computer-decision");
    const decision = await verifyComputerDecision(site.publicKey, document);
    assert.ok(isComputerDecisionAction(decision.action));
    assert.ok(Number.isSafeInteger(decision.computerId) && decision.computerId > 0);
    assert.ok(Number.isSafeInteger(decision.serial) && decision.serial > 0);
    assert.ok(Number.isSafeInteger(decision.issuedAt));
  }, mleError("ERR_DOCUMENT_INVALID"));
});
