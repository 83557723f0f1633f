import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import { signDocument } from "../envelope/signed_document.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import {
  MAX_ROTATION_REQUESTS,
  requestFor,
  type RotationDirective,
  signRotationDirective,
  verifyRotationDirective,
} from "./rotation_directive.ts";

const request = (computerId: number, requestedIn = 2) => ({
  computerId,
  requestedIn,
  requestedAt: 1_700_000_000_000,
  compromised: false,
});

const directive: RotationDirective = {
  serial: 2,
  issuedAt: 1_700_000_000_000,
  requests: [request(7, 1), { ...request(9), compromised: true }],
};

Deno.test("verifyRotationDirective() returns what the site signed; requestFor() finds only the named computers", async () => {
  const site = await generateSigningKeyPair();
  const verified = await verifyRotationDirective(
    site.publicKey,
    await signRotationDirective(site.privateKey, directive),
  );
  assert.deepEqual(verified, directive);
  assert.equal(requestFor(verified, 9)?.compromised, true);
  assert.equal(requestFor(verified, 8), null);
});

Deno.test("verifyRotationDirective() refuses another key's signature and another document type", async () => {
  const site = await generateSigningKeyPair();
  const other = await generateSigningKeyPair();
  const forged = await signRotationDirective(other.privateKey, directive);
  await assert.rejects(verifyRotationDirective(site.publicKey, forged), MleError);
  const settings = await signDocument(site.privateKey, "mle-settings", { ...directive });
  await assert.rejects(verifyRotationDirective(site.publicKey, settings), MleError);
});

Deno.test("verifyRotationDirective() refuses malformed bodies, each with ERR_DOCUMENT_INVALID", async () => {
  const site = await generateSigningKeyPair();
  const cases: Array<[string, Record<string, unknown>]> = [
    ["no serial", { issuedAt: 1, requests: [] }],
    ["serial 0", { serial: 0, issuedAt: 1, requests: [] }],
    ["no requests", { serial: 1, issuedAt: 1 }],
    ["id as text", { serial: 1, issuedAt: 1, requests: [{ ...request(1, 1), computerId: "1" }] }],
    ["id 0", { serial: 1, issuedAt: 1, requests: [request(0, 1)] }],
    ["asked in a later directive", { serial: 1, issuedAt: 1, requests: [request(1, 2)] }],
    ["no compromised flag", {
      serial: 1,
      issuedAt: 1,
      requests: [{ computerId: 1, requestedIn: 1, requestedAt: 1 }],
    }],
    ["named twice", { serial: 2, issuedAt: 1, requests: [request(1), request(1)] }],
    ["too many", {
      serial: 1,
      issuedAt: 1,
      requests: Array.from({ length: MAX_ROTATION_REQUESTS + 1 }, (_, i) => request(i + 1, 1)),
    }],
  ];
  for (const [name, body] of cases) {
    const document = await signDocument(site.privateKey, "mle-rotation-directive", body);
    await assert.rejects(
      verifyRotationDirective(site.publicKey, document),
      (error: unknown) => error instanceof MleError && error.code === "ERR_DOCUMENT_INVALID",
      name,
    );
  }
});

Deno.test("signRotationDirective() refuses to sign a computer named twice", async () => {
  const site = await generateSigningKeyPair();
  await assert.rejects(
    signRotationDirective(site.privateKey, { ...directive, requests: [request(1), request(1)] }),
    RangeError,
  );
});
