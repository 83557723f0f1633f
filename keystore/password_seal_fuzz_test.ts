import assert from "node:assert/strict";
import {
  anyJson,
  countSubtleCalls,
  documentBodies,
  fc,
  FUZZ_RUNS,
  fuzzParser,
  mleError,
} from "../tests/fuzz.ts";
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

Deno.test("fuzz: openWithPassword() refuses a structure it does not write with ERR_KEY_INVALID, before deriving any key", async () => {
  const refusedStructures = inputs.filter((value) => {
    try {
      readPasswordSealed(value);
      return false;
    } catch {
      return true;
    }
  });
  using pbkdf2 = countSubtleCalls("deriveKey");
  await fuzzParser("openWithPassword (structure)", refusedStructures, async (value) => {
    try {
      await openWithPassword(value, "correct horse");
    } finally {
      assert.equal(pbkdf2.calls, 0);
    }
    assert.fail("opened a structure that readPasswordSealed() refuses");
  }, mleError("ERR_KEY_INVALID"));
});

// Each case that passes the structure costs a PBKDF2 of 600,000 iterations or more (about a
// quarter of a second), so this end-to-end property runs FUZZ_RUNS / 500 cases, at least 20 (20
// in `npm test`, 400 in `npm run fuzz`), all of them structures that pass the checks (at the least
// count of iterations) and so reach the derivation; the properties above cover the structure at
// the full count.
Deno.test("fuzz: openWithPassword() opens only the sealed secret, or refuses with a typed error", async () => {
  const derived = inputs.filter((value) => {
    try {
      return readPasswordSealed(value).sealed.kdf.iterations === 600_000;
    } catch {
      return false;
    }
  });
  await fuzzParser(
    "openWithPassword",
    derived,
    async (value) => {
      assert.deepEqual(await openWithPassword(value, "correct horse"), new Uint8Array([1, 2]));
    },
    mleError("ERR_KEY_INVALID", "ERR_WRONG_PASSWORD"),
    { runs: Math.max(20, Math.ceil(FUZZ_RUNS / 500)) },
  );
});
