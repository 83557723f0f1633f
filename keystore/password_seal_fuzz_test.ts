import assert from "node:assert/strict";
import { anyJson, documentBodies, fc, fuzzParser, mleError } from "../tests/fuzz.ts";
import { openWithPassword, readPasswordSealed, sealWithPassword } from "./password_seal.ts";

const SEALED = await sealWithPassword("demo/1", new Uint8Array([1, 2]), "pk", "correct horse");
const inputs = fc.oneof(documentBodies(SEALED as unknown as Record<string, unknown>), anyJson);

Deno.test("fuzz: readPasswordSealed() reads a sealed secret's structure, or refuses with ERR_KEY_INVALID", async () => {
  await fuzzParser("readPasswordSealed", inputs, (value) => {
    const { sealed, salt } = readPasswordSealed(value);
    assert.ok(sealed.kdf.iterations >= 600_000 && sealed.kdf.iterations <= 100_000_000);
    assert.ok(salt instanceof Uint8Array);
  }, mleError("ERR_KEY_INVALID"));
});

// Each case that passes the structure costs a PBKDF2 of 600,000 iterations or more: few cases,
// biased to those that fail before it.
Deno.test("fuzz: openWithPassword() opens only the sealed secret, or refuses with a typed error", async () => {
  const cheap = inputs.filter((value) => {
    try {
      return readPasswordSealed(value).sealed.kdf.iterations === 600_000;
    } catch {
      return true;
    }
  });
  await fuzzParser(
    "openWithPassword",
    cheap,
    async (value) => {
      assert.deepEqual(await openWithPassword(value, "correct horse"), new Uint8Array([1, 2]));
    },
    mleError("ERR_KEY_INVALID", "ERR_WRONG_PASSWORD"),
    { runs: 20 },
  );
});
