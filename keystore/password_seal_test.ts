import assert from "node:assert/strict";
import { openWithPassword, readPasswordSealed, sealWithPassword } from "./password_seal.ts";

const SEALED = await sealWithPassword("demo/1", new Uint8Array([1, 2]), "pk", "correct horse");

Deno.test("openWithPassword() opens with the password it was sealed with", async () => {
  assert.deepEqual(await openWithPassword(SEALED, "correct horse"), new Uint8Array([1, 2]));
  await assert.rejects(openWithPassword(SEALED, "wrong horse"), { code: "ERR_WRONG_PASSWORD" });
});

// Found by password_seal_fuzz_test.ts: a salt that is not base64url threw a SyntaxError (an
// `mle-admin encryption import` of such a file crashed instead of refusing it).
Deno.test("openWithPassword() refuses a salt, IV or ciphertext that is not base64url with ERR_KEY_INVALID", async () => {
  const broken = [
    { ...SEALED, kdf: { ...SEALED.kdf, salt: "!" } },
    { ...SEALED, cipher: { ...SEALED.cipher, iv: "A" } },
    { ...SEALED, ciphertext: "a b" },
  ];
  for (const sealed of broken) {
    await assert.rejects(openWithPassword(sealed, "correct horse"), {
      name: "MleError",
      code: "ERR_KEY_INVALID",
    }, JSON.stringify(sealed));
  }
});

Deno.test("readPasswordSealed() gives the decoded salt, IV and ciphertext", () => {
  const { salt, iv } = readPasswordSealed(SEALED);
  assert.equal(salt.length, 16);
  assert.equal(iv.length, 12);
});
