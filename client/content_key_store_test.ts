import assert from "node:assert/strict";
import { encryptionKeyId, generateEncryptionKeyPair } from "../envelope/encryption_key.ts";
import { MAX_CONTENT_KEY_AGE_MS } from "../envelope/content_key_policy.ts";
import { ContentKeyStore } from "./content_key_store.ts";

const pair = await generateEncryptionKeyPair(2048);
const kid = await encryptionKeyId(pair.publicKey);

Deno.test("ContentKeyStore reuses one content key across messages and in a new store over the same folder (as after a restart)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = new ContentKeyStore(dir);
    const a = await first.next(kid, pair.publicKey);
    const b = await first.next(kid, pair.publicKey);
    assert.equal(a.encryptedKey, b.encryptedKey);
    const info = await Deno.stat(`${dir}/content-key.json`);
    assert.equal(info.mode! & 0o777, 0o600);
    const restarted = new ContentKeyStore(dir);
    const c = await restarted.next(kid, pair.publicKey);
    assert.equal(c.encryptedKey, a.encryptedKey);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ContentKeyStore makes a new content key for another server key or past the age bound", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new ContentKeyStore(dir);
    const now = Date.now();
    const a = await store.next(kid, pair.publicKey, now);
    const other = await generateEncryptionKeyPair(2048);
    const otherKid = await encryptionKeyId(other.publicKey);
    const b = await store.next(otherKid, other.publicKey, now);
    assert.notEqual(b.encryptedKey, a.encryptedKey);
    assert.equal(b.kid, otherKid);
    const c = await store.next(otherKid, other.publicKey, now + MAX_CONTENT_KEY_AGE_MS + 1);
    assert.notEqual(c.encryptedKey, b.encryptedKey);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
