import assert from "node:assert/strict";
import { signJsonJws } from "../envelope/jws.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import {
  checkHandover,
  HANDOVER_MAX_AGE_MS,
  HANDOVER_TYPE,
  handoverComputerId,
  signHandover,
  verifyHandover,
} from "./handover.ts";

const oldKey = await generateSigningKeyPair();

Deno.test("verifyHandover() gives the claims the old key signed", async () => {
  const claims = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1, lastSeq: 12 };
  assert.deepEqual(
    await verifyHandover(oldKey.publicKey, await signHandover(oldKey.privateKey, claims)),
    claims,
  );
});

// Found by handover_fuzz_test.ts: a SyntaxError escaped instead of the typed error.
Deno.test("verifyHandover() refuses a new public key that is not base64url with ERR_ENVELOPE_MALFORMED", async () => {
  const claims = { oldComputerId: 7, newPublicKey: " A", issuedAt: 1 };
  const document = await signJsonJws(oldKey.privateKey, HANDOVER_TYPE, claims);
  await assert.rejects(verifyHandover(oldKey.publicKey, document), {
    name: "MleError",
    code: "ERR_ENVELOPE_MALFORMED",
  });
});

Deno.test("verifyHandover() reads an older client's hand-over without lastSeq as 0 (no grace)", async () => {
  const claims = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1 };
  const document = await signJsonJws(oldKey.privateKey, HANDOVER_TYPE, claims);
  assert.deepEqual(await verifyHandover(oldKey.publicKey, document), { ...claims, lastSeq: 0 });
});

Deno.test("verifyHandover() refuses a lastSeq that is not a non-negative integer with ERR_ENVELOPE_MALFORMED", async () => {
  for (const lastSeq of [-1, 1.5, "3", null, 2 ** 60]) {
    const claims = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1, lastSeq };
    const document = await signJsonJws(oldKey.privateKey, HANDOVER_TYPE, claims);
    await assert.rejects(verifyHandover(oldKey.publicKey, document), {
      name: "MleError",
      code: "ERR_ENVELOPE_MALFORMED",
    }, String(lastSeq));
  }
});

Deno.test("checkHandover() accepts the old key's statement for the registering key, and names what is wrong otherwise", async () => {
  const claims = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1_000, lastSeq: 4 };
  const document = await signHandover(oldKey.privateKey, claims);
  const expected = { oldComputerId: 7, newPublicKey: claims.newPublicKey, now: 1_000 };
  assert.deepEqual(await checkHandover(oldKey.publicKey, document, expected), { ok: true, claims });
  const stranger = await generateSigningKeyPair();
  const problems = [
    [stranger.publicKey, expected, "it is not signed by computer 7's key"],
    [oldKey.publicKey, { ...expected, oldComputerId: 8 }, "it names another computer"],
    [
      oldKey.publicKey,
      { ...expected, newPublicKey: "B".repeat(43) },
      "it vouches for another key than the one registering",
    ],
    [
      oldKey.publicKey,
      { ...expected, now: 1_000 + HANDOVER_MAX_AGE_MS + 1 },
      "it is more than 30 days old",
    ],
  ] as const;
  for (const [key, wanted, problem] of problems) {
    assert.deepEqual(await checkHandover(key, document, wanted), { ok: false, problem });
  }
});

Deno.test("handoverComputerId() reads the id a hand-over names, or null", async () => {
  const claims = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1, lastSeq: 0 };
  assert.equal(handoverComputerId(await signHandover(oldKey.privateKey, claims)), 7);
  for (const bad of [null, 3, {}, { payload: 5 }, { payload: "!!" }, { payload: "e30" }]) {
    assert.equal(handoverComputerId(bad), null);
  }
});
