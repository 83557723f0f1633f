import assert from "node:assert/strict";
import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import {
  checkProof,
  derivePasswordKey,
  KEY_EXCHANGE_ITERATIONS,
  keyExchangeParameters,
  newKeyExchangeSalt,
  proofForSalt,
  proveKeyExchange,
  readKeyExchangeParameters,
} from "./key_exchange.ts";

const PASSWORD = "correct horse battery staple";
const registration = { protected: "eyJ0eXAiOiJyZWcifQ", payload: "eyJhIjoxfQ", signature: "x" };
const encoder = new TextEncoder();

/** One HMAC-SHA256 keyed with `key` bytes: what a guess cost against the old proof. */
async function hmac(key: Uint8Array<ArrayBuffer>, text: string): Promise<string> {
  const imported = await crypto.subtle.importKey(
    "raw",
    key,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return encodeBase64Url(
    new Uint8Array(await crypto.subtle.sign("HMAC", imported, encoder.encode(text))),
  );
}

Deno.test("an observed registration lets a guess be checked only with the slow derivation and the relay's salt", async () => {
  const salt = newKeyExchangeSalt();
  const key = await derivePasswordKey(PASSWORD, salt);
  const { proofs: [observed] } = await proveKeyExchange(registration, [key]);
  const input = `mle-key-exchange-proof.${registration.protected}.${registration.payload}`;

  // One HMAC keyed with the right password itself, as the old proof was made: no match.
  assert.notEqual(await hmac(encoder.encode(PASSWORD), input), observed.mac);
  assert.notEqual(
    await hmac(
      encoder.encode(PASSWORD),
      `mle-key-exchange.${registration.protected}.${registration.payload}`,
    ),
    observed.mac,
  );
  // A cheaper derivation of the right password (one iteration fewer), or the right one with
  // another relay's salt or none: no match either.
  const material = await crypto.subtle.importKey("raw", encoder.encode(PASSWORD), "PBKDF2", false, [
    "deriveBits",
  ]);
  const derive = async (saltBytes: Uint8Array<ArrayBuffer>, iterations: number) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "PBKDF2", hash: "SHA-256", salt: saltBytes, iterations },
        material,
        256,
      ),
    );
  const label = encoder.encode("mle-key-exchange-v2.");
  const withSalt = (bytes: Uint8Array) => {
    const all = new Uint8Array(label.length + bytes.length);
    all.set(label);
    all.set(bytes, label.length);
    return all;
  };
  const saltBytes = decodeBase64Url(salt);
  for (
    const [what, bits] of [
      ["one iteration fewer", await derive(withSalt(saltBytes), KEY_EXCHANGE_ITERATIONS - 1)],
      [
        "another salt",
        await derive(withSalt(decodeBase64Url(newKeyExchangeSalt())), KEY_EXCHANGE_ITERATIONS),
      ],
      ["no salt", await derive(label, KEY_EXCHANGE_ITERATIONS)],
    ] as const
  ) {
    assert.notEqual(await hmac(bits, input), observed.mac, what);
  }
  // Exactly the published derivation with this relay's salt checks the guess.
  const right = await derive(withSalt(saltBytes), KEY_EXCHANGE_ITERATIONS);
  assert.equal(await hmac(right, input), observed.mac);
  // And the id names the password without revealing it: the same derivation gives it.
  assert.equal(await hmac(right, "mle-key-exchange-id"), observed.id);
});

Deno.test("a proof is found by its relay's salt and checked with one key; another registration fails", async () => {
  const [a, b] = [newKeyExchangeSalt(), newKeyExchangeSalt()];
  const keys = [await derivePasswordKey(PASSWORD, a), await derivePasswordKey(PASSWORD, b)];
  const proof = await proveKeyExchange(registration, keys);
  assert.notEqual(keys[0].id, keys[1].id, "each salt gives the password another id");
  const forB = proofForSalt(proof, b)!;
  assert.equal(forB.id, keys[1].id);
  assert.equal(await checkProof(registration, forB, keys[1].key), true);
  assert.equal(await checkProof(registration, forB, keys[0].key), false);
  assert.equal(
    await checkProof({ ...registration, payload: "eyJhIjoyfQ" }, forB, keys[1].key),
    false,
  );
  assert.equal(proofForSalt(proof, newKeyExchangeSalt()), null);
  for (const bad of [null, {}, { proofs: {} }, { proofs: [null] }, { proofs: [{ salt: a }] }]) {
    assert.equal(proofForSalt(bad, a), null, JSON.stringify(bad));
  }
});

Deno.test("readKeyExchangeParameters() refuses a weaker (or other) derivation and malformed salts", () => {
  const salt = newKeyExchangeSalt();
  assert.deepEqual(readKeyExchangeParameters(keyExchangeParameters([salt, salt])).salts, [salt]);
  const cases: unknown[] = [
    null,
    { ...keyExchangeParameters([salt]), iterations: 1_000 },
    { ...keyExchangeParameters([salt]), iterations: 100_000_000 },
    { ...keyExchangeParameters([salt]), kdf: "none" },
    keyExchangeParameters(["short"]),
    keyExchangeParameters(Array.from({ length: 5 }, newKeyExchangeSalt)),
  ];
  for (const value of cases) {
    assert.throws(() => readKeyExchangeParameters(value), RangeError, JSON.stringify(value));
  }
});

// Found by key_exchange_fuzz_test.ts: a MAC of the right length whose last character carries
// bits beyond the 32 bytes passed the shape check, and decoding it threw in checkProof().
Deno.test("proofForSalt() refuses a MAC or id that is not canonical base64url", () => {
  const salt = newKeyExchangeSalt();
  const canonical = "A".repeat(43);
  assert.deepEqual(proofForSalt({ proofs: [{ salt, id: canonical, mac: canonical }] }, salt), {
    salt,
    id: canonical,
    mac: canonical,
  });
  const stray = "A".repeat(42) + "B"; // 43rd character with a bit past the 256th
  assert.equal(proofForSalt({ proofs: [{ salt, id: canonical, mac: stray }] }, salt), null);
  assert.equal(proofForSalt({ proofs: [{ salt, id: stray, mac: canonical }] }, salt), null);
});
