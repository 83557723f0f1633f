import assert from "node:assert/strict";
import { KEY_INVALID } from "./_test_errors.ts";
import {
  checkEncryptionKey,
  encryptionKeyId,
  exportPkcs8,
  exportSpki,
  generateEncryptionKeyPair,
  importEncryptionPrivateKey,
  importEncryptionPublicKey,
  isKeyId,
  keyIdOfSpki,
  parseEncryptionKeySize,
} from "./encryption_key.ts";
import { generateSigningKeyPair } from "./signature.ts";

const pair = await generateEncryptionKeyPair(2048);

function rsaKeyPair(
  algorithm: RsaHashedKeyGenParams,
  usages: KeyUsage[],
): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(algorithm, true, usages) as Promise<CryptoKeyPair>;
}

Deno.test("encryptionKeyId() is the lower-case hex SHA-1 of the SubjectPublicKeyInfo DER", async () => {
  const spki = await exportSpki(pair.publicKey);
  const expected = new Uint8Array(await crypto.subtle.digest("SHA-1", spki)).toHex();
  const kid = await encryptionKeyId(pair.publicKey);
  assert.equal(kid, expected);
  assert.equal(await keyIdOfSpki(spki), expected);
  assert.match(kid, /^[0-9a-f]{40}$/);
  assert.ok(isKeyId(kid));
});

Deno.test("isKeyId() accepts only 40 lower-case hex characters", () => {
  for (
    const value of ["A".repeat(40), "a".repeat(39), "a".repeat(41), "g".repeat(40), "", null, 1]
  ) {
    assert.equal(isKeyId(value), false, String(value));
  }
  assert.equal(isKeyId("0123456789abcdef0123456789abcdef01234567"), true);
});

Deno.test("parseEncryptionKeySize() reads min, max and the accepted bit counts", () => {
  const accepted: [string, number][] = [
    ["min", 2048],
    [" MIN ", 2048],
    ["max", 4096],
    ["Max", 4096],
    ["2048", 2048],
    ["3072", 3072],
    ["4096", 4096],
  ];
  for (const [value, bits] of accepted) assert.equal(parseEncryptionKeySize(value), bits, value);
  for (const value of ["1024", "8192", "2047", "", "large"]) {
    assert.throws(() => parseEncryptionKeySize(value), RangeError, value);
  }
});

Deno.test("generateEncryptionKeyPair() refuses a size outside 2048, 3072 and 4096 with a RangeError", async () => {
  for (const bits of [1024, 2047, 8192]) {
    await assert.rejects(generateEncryptionKeyPair(bits as 2048), RangeError);
  }
});

Deno.test("importEncryptionPrivateKey() returns a non-extractable key and its public half with the same key id", async () => {
  const imported = await importEncryptionPrivateKey(await exportPkcs8(pair.privateKey));
  assert.equal(imported.bits, 2048);
  assert.equal(imported.privateKey.extractable, false);
  assert.deepEqual([...imported.privateKey.usages].sort(), ["decrypt", "unwrapKey"]);
  assert.equal(await encryptionKeyId(imported.publicKey), await encryptionKeyId(pair.publicKey));
});

Deno.test("importEncryptionPublicKey() round-trips exportSpki()", async () => {
  const imported = await importEncryptionPublicKey(await exportSpki(pair.publicKey));
  assert.equal(checkEncryptionKey(imported), 2048);
  assert.equal(await encryptionKeyId(imported), await encryptionKeyId(pair.publicKey));
});

Deno.test("importEncryptionPublicKey() and importEncryptionPrivateKey() refuse keys that are not RSA as ERR_KEY_INVALID", async () => {
  const ed25519 = await generateSigningKeyPair();
  const edSpki = new Uint8Array(await crypto.subtle.exportKey("spki", ed25519.publicKey));
  const edPkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", ed25519.privateKey));
  for (const bytes of [edSpki, new Uint8Array(0), new Uint8Array(300)]) {
    await assert.rejects(importEncryptionPublicKey(bytes), KEY_INVALID);
  }
  for (const bytes of [edPkcs8, new Uint8Array(0), new Uint8Array(1200)]) {
    await assert.rejects(importEncryptionPrivateKey(bytes), KEY_INVALID);
  }
});

Deno.test("importEncryptionPublicKey() refuses a 1024-bit RSA key and a public exponent of 3", async () => {
  const small = await rsaKeyPair({
    name: "RSA-OAEP",
    hash: "SHA-256",
    modulusLength: 1024,
    publicExponent: new Uint8Array([1, 0, 1]),
  }, ["encrypt", "decrypt"]);
  await assert.rejects(importEncryptionPublicKey(await exportSpki(small.publicKey)), {
    ...KEY_INVALID,
    message: "Cannot use encryption key: expected 2048, 3072 or 4096 bits, got 1024",
  });
  await assert.rejects(
    importEncryptionPrivateKey(await exportPkcs8(small.privateKey)),
    KEY_INVALID,
  );
  const e3 = await rsaKeyPair({
    name: "RSA-OAEP",
    hash: "SHA-256",
    modulusLength: 2048,
    publicExponent: new Uint8Array([3]),
  }, ["encrypt", "decrypt"]);
  await assert.rejects(importEncryptionPublicKey(await exportSpki(e3.publicKey)), {
    ...KEY_INVALID,
    message: "Cannot use encryption key: expected public exponent 65537",
  });
});

Deno.test("checkEncryptionKey() refuses RSA-OAEP with SHA-1 and keys of other algorithms", async () => {
  const spki = await exportSpki(pair.publicKey);
  /** The same public key imported for another algorithm, as a caller could hand it over. */
  const importedAs = (algorithm: RsaHashedImportParams, usage: KeyUsage) =>
    crypto.subtle.importKey("spki", spki, algorithm, false, [usage]);
  const sha1 = await importedAs({ name: "RSA-OAEP", hash: "SHA-1" }, "encrypt");
  const pss = await importedAs({ name: "RSA-PSS", hash: "SHA-256" }, "verify");
  for (const key of [sha1, pss, (await generateSigningKeyPair()).publicKey]) {
    assert.throws(() => checkEncryptionKey(key), {
      ...KEY_INVALID,
      message: "Cannot use encryption key: expected RSA-OAEP with SHA-256",
    });
  }
});
