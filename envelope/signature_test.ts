import assert from "node:assert/strict";
import { KEY_INVALID } from "./_test_errors.ts";
import {
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  exportSigningPublicKey,
  generateSigningKeyPair,
  importSigningPrivateKey,
  importSigningPublicKey,
  publicKeyOfSigningPrivateKey,
  signBytes,
  verifyBytes,
} from "./signature.ts";

const pair = await generateSigningKeyPair();
const DATA = new TextEncoder().encode("signed bytes");

Deno.test("verifyBytes() accepts what signBytes() signed through exported and re-imported keys", async () => {
  const raw = await exportSigningPublicKey(pair.publicKey);
  assert.equal(raw.length, ED25519_PUBLIC_KEY_LENGTH);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  assert.deepEqual(await publicKeyOfSigningPrivateKey(pkcs8), raw);
  const privateKey = await importSigningPrivateKey(pkcs8);
  assert.equal(privateKey.extractable, false);
  const signature = await signBytes(privateKey, DATA);
  assert.equal(signature.length, ED25519_SIGNATURE_LENGTH);
  assert.equal(await verifyBytes(await importSigningPublicKey(raw), signature, DATA), true);
});

Deno.test("verifyBytes() returns false for other data, another key or a signature of the wrong length", async () => {
  const signature = await signBytes(pair.privateKey, DATA);
  const other = await generateSigningKeyPair();
  assert.equal(await verifyBytes(pair.publicKey, signature, new Uint8Array([...DATA, 0])), false);
  assert.equal(await verifyBytes(other.publicKey, signature, DATA), false);
  for (const length of [0, 63, 65, 128]) {
    const resized = new Uint8Array(length);
    resized.set(signature.subarray(0, length));
    assert.equal(await verifyBytes(pair.publicKey, resized, DATA), false, `length ${length}`);
  }
});

Deno.test("importSigningPublicKey() refuses anything but 32 bytes as ERR_KEY_INVALID", async () => {
  for (const length of [0, 31, 33, 44]) {
    await assert.rejects(importSigningPublicKey(new Uint8Array(length)), {
      ...KEY_INVALID,
      message: `Cannot import signing public key: expected 32 bytes, got ${length}`,
    });
  }
});

Deno.test("importSigningPrivateKey() refuses PKCS#8 that is not Ed25519 as ERR_KEY_INVALID", async () => {
  const rsa = await crypto.subtle.generateKey(
    {
      name: "RSA-PSS",
      hash: "SHA-256",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const rsaPkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", rsa.privateKey));
  for (const bytes of [rsaPkcs8, new Uint8Array(0), new Uint8Array(48)]) {
    await assert.rejects(importSigningPrivateKey(bytes), KEY_INVALID);
  }
});
