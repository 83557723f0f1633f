import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signDocument } from "../envelope/signed_document.ts";
import { MleError } from "../envelope/errors.ts";
import { signRevocations, verifyRevocations } from "./revocations.ts";
import { KID_A } from "../envelope/_test_key_ids.ts";

const site = await generateSigningKeyPair();
const other = await generateSigningKeyPair();
const KID_B = "0123456789abcdef0123456789abcdef01234567";

Deno.test("a revocation list carries revoked computers and retired keys, sorted and unique", async () => {
  const document = await signRevocations(site.privateKey, {
    revoked: [9, 3, 9],
    retiredKeys: [KID_A, KID_B, KID_A],
    issuedAt: 1000,
  });
  assert.deepEqual(await verifyRevocations(site.publicKey, document), {
    revoked: [3, 9],
    retiredKeys: [KID_B, KID_A],
    issuedAt: 1000,
  });
});

Deno.test("a list signed before keys were retired reads as retiring none", async () => {
  const document = await signDocument(site.privateKey, "mle-revocations", {
    revoked: [4],
    issuedAt: 5,
  });
  assert.deepEqual(await verifyRevocations(site.publicKey, document), {
    revoked: [4],
    retiredKeys: [],
    issuedAt: 5,
  });
});

Deno.test("a revocation list with a malformed retired key id, or another signer, is refused", async () => {
  for (const retiredKeys of [["not a key id"], [KID_A.toUpperCase()], "x", [42]]) {
    await assertSiteSignedListRefused({ revoked: [], retiredKeys, issuedAt: 1 });
  }
  await assert.rejects(
    signRevocations(site.privateKey, { revoked: [], retiredKeys: ["nope"], issuedAt: 1 }),
    RangeError,
  );
  const forged = await signRevocations(other.privateKey, {
    revoked: [],
    retiredKeys: [KID_A],
    issuedAt: 2,
  });
  await assert.rejects(verifyRevocations(site.publicKey, forged), MleError);
});

Deno.test("a revocation list carries the store's serial; a serial that is not a positive integer is refused", async () => {
  const document = await signRevocations(site.privateKey, {
    revoked: [2],
    serial: 7,
    issuedAt: 10,
  });
  assert.deepEqual(await verifyRevocations(site.publicKey, document), {
    revoked: [2],
    retiredKeys: [],
    serial: 7,
    issuedAt: 10,
  });
  for (const serial of [0, -1, 1.5, "3", null]) {
    await assertSiteSignedListRefused({ revoked: [], serial, issuedAt: 1 });
  }
  await assert.rejects(
    signRevocations(site.privateKey, { revoked: [], serial: 0, issuedAt: 1 }),
    RangeError,
  );
});

/** A list the site did sign, with `body`, is still refused with `ERR_DOCUMENT_INVALID`. */
async function assertSiteSignedListRefused(body: Record<string, unknown>): Promise<void> {
  const document = await signDocument(site.privateKey, "mle-revocations", body);
  await assert.rejects(
    verifyRevocations(site.publicKey, document),
    (error: unknown) => error instanceof MleError && error.code === "ERR_DOCUMENT_INVALID",
    JSON.stringify(body),
  );
}
