import assert from "node:assert/strict";
import { signJws } from "../envelope/jws.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { HANDOVER_TYPE, signHandover, verifyHandover } from "./handover.ts";

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
  const document = await signJws(
    oldKey.privateKey,
    { typ: HANDOVER_TYPE },
    new TextEncoder().encode(JSON.stringify(claims)),
  );
  await assert.rejects(verifyHandover(oldKey.publicKey, document), {
    name: "MleError",
    code: "ERR_ENVELOPE_MALFORMED",
  });
});

Deno.test("verifyHandover() reads an older client's hand-over without lastSeq as 0 (no grace)", async () => {
  const claims = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1 };
  const document = await signJws(
    oldKey.privateKey,
    { typ: HANDOVER_TYPE },
    new TextEncoder().encode(JSON.stringify(claims)),
  );
  assert.deepEqual(await verifyHandover(oldKey.publicKey, document), { ...claims, lastSeq: 0 });
});

Deno.test("verifyHandover() refuses a lastSeq that is not a non-negative integer with ERR_ENVELOPE_MALFORMED", async () => {
  for (const lastSeq of [-1, 1.5, "3", null, 2 ** 60]) {
    const claims = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1, lastSeq };
    const document = await signJws(
      oldKey.privateKey,
      { typ: HANDOVER_TYPE },
      new TextEncoder().encode(JSON.stringify(claims)),
    );
    await assert.rejects(verifyHandover(oldKey.publicKey, document), {
      name: "MleError",
      code: "ERR_ENVELOPE_MALFORMED",
    }, String(lastSeq));
  }
});
