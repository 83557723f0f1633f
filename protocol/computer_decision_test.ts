import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import { signDocument } from "../envelope/signed_document.ts";
import { signComputerDecision, verifyComputerDecision } from "./computer_decision.ts";

async function siteKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey("Ed25519", false, ["sign", "verify"]) as CryptoKeyPair;
}

const decision = {
  action: "confirm" as const,
  computerId: 12,
  serial: 3,
  issuedAt: 1_700_000_000_000,
};

Deno.test("verifyComputerDecision() reads what signComputerDecision() signed", async () => {
  const site = await siteKeys();
  const document = await signComputerDecision(site.privateKey, decision);
  assert.deepEqual(await verifyComputerDecision(site.publicKey, document), decision);
});

Deno.test("verifyComputerDecision() refuses another key, another type and bad fields", async () => {
  const site = await siteKeys();
  const other = await siteKeys();
  const refused = async (document: unknown) =>
    await assert.rejects(
      () => verifyComputerDecision(site.publicKey, document),
      (error) => error instanceof MleError && error.code === "ERR_DOCUMENT_INVALID",
    );
  await refused(await signComputerDecision(other.privateKey, decision));
  await refused(await signDocument(site.privateKey, "mle-settings", { ...decision }));
  for (
    const body of [
      { ...decision, action: "revoke" },
      { ...decision, computerId: 0 },
      { ...decision, computerId: "12" },
      { ...decision, serial: 1.5 },
      { ...decision, issuedAt: "now" },
      { ...decision, extra: true },
      { action: "confirm", computerId: 12, issuedAt: 1 },
    ]
  ) {
    await refused(await signDocument(site.privateKey, "mle-computer-decision", body));
  }
  const document = await signComputerDecision(site.privateKey, decision);
  await refused({ ...document, payload: document.payload.slice(0, -2) + "AA" });
});

Deno.test("signComputerDecision() refuses bad fields", async () => {
  const site = await siteKeys();
  await assert.rejects(
    () => signComputerDecision(site.privateKey, { ...decision, serial: 0 }),
    RangeError,
  );
});
