import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { DATABASE_FILE } from "../store/mod.ts";
import { readTree } from "../tests/recording_proxy.ts";
import { withStore } from "./_test_server.ts";
import { ContentKeyVault, SEALED_CONTENT_KEY_BYTES } from "./content_key_vault.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

const SEED = crypto.getRandomValues(new Uint8Array(32));

/** A content key and a wrapped form of it (any bytes: the vault never unwraps). */
function contentKey(): { raw: Uint8Array<ArrayBuffer>; wrapped: string } {
  return {
    raw: crypto.getRandomValues(new Uint8Array(32)),
    wrapped: encodeBase64Url(crypto.getRandomValues(new Uint8Array(256))),
  };
}

/** Every text form the raw key could take on disk. */
function forms(raw: Uint8Array): string[] {
  return [
    String.fromCharCode(...raw),
    raw.toHex(),
    raw.toHex().toUpperCase(),
    raw.toBase64(),
    raw.toBase64({ omitPadding: true }),
    raw.toBase64({ alphabet: "base64url", omitPadding: true }),
  ];
}

Deno.test("ContentKeyVault gives back a content key after a flush, to a new vault on the same store (a restart)", async () => {
  await withStore(async (store) => {
    const { raw, wrapped } = contentKey();
    const vault = new ContentKeyVault(store);
    vault.addServerKey(KID_A, SEED);
    vault.remember(12, KID_A, wrapped, raw);
    assert.deepEqual(await vault.open(12, KID_A, wrapped), raw, "from the queue, before the flush");
    await vault.flush();
    assert.equal(vault.stats.stored, 1);

    const restarted = new ContentKeyVault(store);
    restarted.addServerKey(KID_A, SEED);
    assert.deepEqual(await restarted.open(12, KID_A, wrapped), raw);
    assert.deepEqual(restarted.stats, { hits: 1, misses: 0, stored: 0 });
  });
});

Deno.test("ContentKeyVault never writes the content key in clear: not in the sealed bytes, not anywhere in the data dir", async () => {
  await withStore(async (store, dir) => {
    const vault = new ContentKeyVault(store);
    vault.addServerKey(KID_A, SEED);
    const keys = Array.from({ length: 20 }, contentKey);
    keys.forEach(({ raw, wrapped }, i) => vault.remember(100 + i, KID_A, wrapped, raw));
    await vault.flush();
    const disk = await readTree(dir);
    for (const [i, { raw }] of keys.entries()) {
      const record = await store.getSealedContentKey(100 + i, KID_A);
      assert.ok(record);
      assert.equal(record.sealed.length, SEALED_CONTENT_KEY_BYTES);
      const sealed = String.fromCharCode(...record.sealed);
      for (const form of forms(raw)) {
        assert.ok(!sealed.includes(form), `computer ${100 + i}: the key is in the sealed bytes`);
        assert.ok(!disk.includes(form), `computer ${100 + i}: the key is in the data dir`);
      }
    }
  });
});

Deno.test("ContentKeyVault misses for another computer, server key, wrapped key or sealing seed", async () => {
  await withStore(async (store) => {
    const { raw, wrapped } = contentKey();
    const vault = new ContentKeyVault(store);
    vault.addServerKey(KID_A, SEED);
    vault.addServerKey(KID_B, SEED);
    vault.remember(12, KID_A, wrapped, raw);
    await vault.flush();
    assert.equal(await vault.open(13, KID_A, wrapped), null, "another computer");
    assert.equal(await vault.open(12, KID_B, wrapped), null, "another server key");
    assert.equal(await vault.open(12, KID_A, contentKey().wrapped), null, "another wrapped key");
    assert.equal(await vault.open(12, KID_A, "not base64url!"), null, "a malformed wrapped key");
    assert.equal(await vault.open(12, "c".repeat(40), wrapped), null, "a server key not loaded");

    const otherSeed = new ContentKeyVault(store);
    otherSeed.addServerKey(KID_A, crypto.getRandomValues(new Uint8Array(32)));
    assert.equal(await otherSeed.open(12, KID_A, wrapped), null, "another private key's seed");
    assert.deepEqual(await vault.open(12, KID_A, wrapped), raw, "the right one still opens");
  });
});

Deno.test("ContentKeyVault misses for a tampered, moved or re-labelled entry", async () => {
  await withStore(async (store, dir) => {
    const { raw, wrapped } = contentKey();
    const other = contentKey();
    const vault = new ContentKeyVault(store);
    vault.addServerKey(KID_A, SEED);
    vault.remember(12, KID_A, wrapped, raw);
    vault.remember(13, KID_A, other.wrapped, other.raw);
    await vault.flush();
    const original = (await store.getSealedContentKey(12, KID_A))!;
    const db = new DatabaseSync(`${dir}/${DATABASE_FILE}`);
    const set = (sealed: Uint8Array, hash = original.wrappedKeyHash, computer = 12) =>
      db.prepare(
        "UPDATE sealed_content_keys SET sealed = ?, wrapped_key_hash = ? WHERE computer_id = ?",
      ).run(sealed, hash, computer);
    try {
      for (let byte = 0; byte < SEALED_CONTENT_KEY_BYTES; byte++) {
        const tampered = original.sealed.slice();
        tampered[byte] ^= 0x01;
        set(tampered);
        assert.equal(await vault.open(12, KID_A, wrapped), null, `byte ${byte} flipped`);
      }
      set(original.sealed.subarray(0, 40));
      assert.equal(await vault.open(12, KID_A, wrapped), null, "truncated");
      // Computer 13's entry moved to computer 12, with 12's wrapped key hash: its AAD says 13.
      const moved = (await store.getSealedContentKey(13, KID_A))!;
      set(moved.sealed);
      assert.equal(await vault.open(12, KID_A, wrapped), null, "moved from another computer");
      // 13's entry re-labelled with 12's wrapped key hash, asked for with 12's wrapped key.
      set(moved.sealed, original.wrappedKeyHash, 13);
      assert.equal(await vault.open(13, KID_A, wrapped), null, "re-labelled wrapped key");
      set(original.sealed);
      assert.deepEqual(await vault.open(12, KID_A, wrapped), raw, "restored, it opens again");
    } finally {
      db.close();
    }
  });
});

Deno.test("ContentKeyVault keeps one entry per computer and server key, and forgets a removed server key's", async () => {
  await withStore(async (store) => {
    const first = contentKey();
    const second = contentKey();
    const vault = new ContentKeyVault(store);
    vault.addServerKey(KID_A, SEED);
    vault.remember(12, KID_A, first.wrapped, first.raw);
    await vault.flush();
    vault.remember(12, KID_A, second.wrapped, second.raw);
    await vault.flush();
    assert.equal(await vault.open(12, KID_A, first.wrapped), null, "replaced by the newer key");
    assert.deepEqual(await vault.open(12, KID_A, second.wrapped), second.raw);
    await vault.removeServerKey(KID_A);
    assert.equal(await store.getSealedContentKey(12, KID_A), null);
  });
});

Deno.test("ContentKeyVault.seal() and unseal(): a key sealed for one computer, key id and wrapped key opens for exactly those", async () => {
  await withStore((store) => {
    const vault = new ContentKeyVault(store);
    vault.addServerKey(KID_A, SEED);
    const { raw, wrapped } = contentKey();
    const ref = { computerId: 12, kid: KID_A, encryptedKey: wrapped };
    const sealed = vault.seal(ref, raw)!;
    assert.equal(sealed.length, SEALED_CONTENT_KEY_BYTES);
    assert.deepEqual(vault.unseal(ref, sealed), raw);
    assert.equal(vault.unseal({ ...ref, computerId: 13 }, sealed), null, "another computer");
    assert.equal(
      vault.unseal({ ...ref, encryptedKey: contentKey().wrapped }, sealed),
      null,
      "another wrapped key",
    );
    assert.equal(vault.unseal({ ...ref, kid: KID_B }, sealed), null, "a key not loaded");
    assert.equal(vault.seal({ ...ref, kid: KID_B }, raw), null);
    return Promise.resolve();
  });
});
