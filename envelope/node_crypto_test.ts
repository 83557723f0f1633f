/**
 * The node:crypto path (`_node_crypto.ts`, behind `signBytes` and `aes_gcm.ts`) must give exactly
 * what Web Crypto gives: Ed25519 signatures byte for byte, AES-256-GCM ciphertexts, tags and
 * opening verdicts against every Wycheproof vector, and envelopes that Web Crypto opens and the
 * reverse. Each test checks that the node:crypto path really ran. Verification is Web Crypto's;
 * its tamper cases are here too.
 */

import assert from "node:assert/strict";
import { encodeBase64Url } from "./base64url.ts";
import { openAesGcm, sealAesGcm } from "./aes_gcm.ts";
import { decryptAesGcm, encryptAesGcm, nodeTwinOf } from "./_node_crypto.ts";
import {
  decryptJwe,
  encryptJwe,
  type FlattenedJwe,
  importAesKey,
  importContentKey,
} from "./jwe.ts";
import {
  generateSigningKeyPair,
  importSigningPrivateKey,
  importSigningPublicKey,
  signBytes,
  verifyBytes,
} from "./signature.ts";

const WYCHEPROOF_DIR = new URL("../../shared/testdata/wycheproof/", import.meta.url);
const hex = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.fromHex(text);

interface Vector {
  tcId: number;
  key?: string;
  iv?: string;
  aad?: string;
  msg: string;
  ct?: string;
  tag?: string;
  sig?: string;
  result: "valid" | "invalid" | "acceptable";
}
interface Group {
  keySize?: number;
  ivSize?: number;
  tagSize?: number;
  publicKey?: { pk: string };
  tests: Vector[];
}

/** Reads a vector file after checking it against the pinned SHA256SUMS. */
async function vectors(name: string): Promise<Group[]> {
  const sums = await Deno.readTextFile(new URL("SHA256SUMS", WYCHEPROOF_DIR));
  const expected = sums.split("\n").find((line) => line.endsWith(` ${name}`))?.split(/\s+/)[0];
  const bytes = await Deno.readFile(new URL(name, WYCHEPROOF_DIR));
  const actual = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
  assert.equal(actual, expected, `${name} does not match its pinned SHA-256`);
  return JSON.parse(new TextDecoder().decode(bytes)).testGroups;
}

/** Web Crypto's answer, an exception counted as its own outcome. */
async function webVerify(
  key: CryptoKey,
  signature: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
) {
  try {
    return await crypto.subtle.verify("Ed25519", key, signature, data);
  } catch (error) {
    return `threw ${(error as Error).name}`;
  }
}

Deno.test("signing keys and content keys have node:crypto twins, so its path is taken; public keys verify through Web Crypto", async () => {
  const pair = await generateSigningKeyPair();
  assert.ok(nodeTwinOf(pair.privateKey));
  assert.equal(nodeTwinOf(pair.publicKey), undefined);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  assert.equal(nodeTwinOf(await importSigningPublicKey(raw)), undefined);
  assert.ok(nodeTwinOf(await importSigningPrivateKey(pkcs8)));
  const cek = crypto.getRandomValues(new Uint8Array(32));
  assert.ok(nodeTwinOf((await importContentKey(cek, "0".repeat(40), "AA")).key));
  assert.ok(nodeTwinOf(await importAesKey(cek)));
  // A key made with Web Crypto directly has none either: it takes the Web Crypto path.
  const plain = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  assert.equal(nodeTwinOf((plain as CryptoKeyPair).privateKey), undefined);
});

Deno.test("signBytes() through node:crypto is byte-identical to Web Crypto's Ed25519 signature", async () => {
  for (let k = 0; k < 4; k++) {
    const pair = await generateSigningKeyPair();
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    const imported = await importSigningPrivateKey(pkcs8);
    assert.ok(nodeTwinOf(imported));
    for (const length of [0, 1, 31, 32, 33, 64, 1000, 4096]) {
      const data = crypto.getRandomValues(new Uint8Array(length));
      const web = new Uint8Array(await crypto.subtle.sign("Ed25519", pair.privateKey, data));
      assert.deepEqual(await signBytes(pair.privateKey, data), web, `length ${length}`);
      assert.deepEqual(await signBytes(imported, data), web, `imported, length ${length}`);
    }
  }
});

Deno.test("verifyBytes() refuses, as Web Crypto does, every single-bit change of a signature and of its data", async () => {
  const pair = await generateSigningKeyPair();
  const data = crypto.getRandomValues(new Uint8Array(300));
  const signature = await signBytes(pair.privateKey, data);
  assert.equal(await verifyBytes(pair.publicKey, signature, data), true);
  let cases = 0;
  for (let bit = 0; bit < signature.length * 8; bit++) {
    const tampered = signature.slice();
    tampered[bit >> 3] ^= 1 << (bit & 7);
    assert.equal(await verifyBytes(pair.publicKey, tampered, data), false, `signature bit ${bit}`);
    assert.equal(await webVerify(pair.publicKey, tampered, data), false);
    cases++;
  }
  for (let byte = 0; byte < data.length; byte += 7) {
    const tampered = data.slice();
    tampered[byte] ^= 0x80;
    assert.equal(
      await verifyBytes(pair.publicKey, signature, tampered),
      false,
      `data byte ${byte}`,
    );
    assert.equal(await webVerify(pair.publicKey, signature, tampered), false);
    cases++;
  }
  assert.equal(cases, 512 + 43);
});

Deno.test("AES-256-GCM through node:crypto gives every Wycheproof vector's exact ciphertext and tag and Web Crypto's opening verdict (96-bit IV, 128-bit tag)", async () => {
  const tally = new Map<string, number>();
  const add = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
  for (const group of await vectors("aes_gcm_test.json")) {
    if (group.keySize !== 256 || group.ivSize !== 96 || group.tagSize !== 128) continue;
    for (const vector of group.tests) {
      const where = `tcId ${vector.tcId}`;
      const { key } = await importContentKey(hex(vector.key!), "0".repeat(40), "AA");
      assert.ok(nodeTwinOf(key), where);
      const params = { name: "AES-GCM", iv: hex(vector.iv!), additionalData: hex(vector.aad!) };
      const sealed = hex(vector.ct! + vector.tag!);
      let web: string | null;
      try {
        web = new Uint8Array(await crypto.subtle.decrypt(params, key, sealed)).toHex();
      } catch {
        web = null;
      }
      const opened = decryptAesGcm(key, params.iv, params.additionalData, sealed);
      assert.notEqual(opened, undefined, `${where}: no node:crypto twin`);
      assert.equal(opened === null ? null : opened!.toHex(), web, `${where}: verdicts differ`);
      if (vector.result !== "valid") {
        assert.equal(web, null, `${where}: ${vector.result} opened`);
        add("invalid: refused by both");
        continue;
      }
      assert.equal(web, vector.msg, where);
      const fast = encryptAesGcm(key, params.iv, params.additionalData, hex(vector.msg))!;
      assert.equal(fast.toHex(), vector.ct! + vector.tag!, where);
      const slow = new Uint8Array(await crypto.subtle.encrypt(params, key, hex(vector.msg)));
      assert.equal(slow.toHex(), vector.ct! + vector.tag!, `${where}: Web Crypto`);
      add("valid: sealed identically, opened by both");
    }
  }
  console.log(
    `AES-256-GCM node:crypto vs Wycheproof: ${JSON.stringify(Object.fromEntries(tally))}`,
  );
  assert.deepEqual(Object.fromEntries(tally), {
    "valid: sealed identically, opened by both": 39,
    "invalid: refused by both": 27,
  });
});

Deno.test("decryptJwe() refuses every tampered envelope of a node:crypto-sealed message, as Web Crypto does, with the one opaque error", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const { key } = await importContentKey(raw, "0".repeat(40), "AA");
  const plaintext = crypto.getRandomValues(new Uint8Array(1024));
  const kid = "0".repeat(40);
  const jwe = await encryptJwe({ kid, encryptedKey: "AA", key }, { cty: "t", cid: 1 }, plaintext);
  assert.deepEqual(await decryptJwe(jwe, key), plaintext);

  /** Web Crypto's verdict on the same envelope. */
  const webOpens = async (candidate: FlattenedJwe): Promise<boolean> => {
    try {
      const sealed = Uint8Array.fromBase64(candidate.ciphertext + "", { alphabet: "base64url" });
      const tag = Uint8Array.fromBase64(candidate.tag, { alphabet: "base64url" });
      const joined = new Uint8Array(sealed.length + tag.length);
      joined.set(sealed);
      joined.set(tag, sealed.length);
      await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: Uint8Array.fromBase64(candidate.iv, { alphabet: "base64url" }),
          additionalData: new TextEncoder().encode(candidate.protected),
          tagLength: 128,
        },
        key,
        joined,
      );
      return true;
    } catch {
      return false;
    }
  };
  const flip = (text: string, byte: number): string => {
    const bytes = Uint8Array.fromBase64(text, { alphabet: "base64url" });
    bytes[byte] ^= 1;
    return encodeBase64Url(bytes);
  };
  const tampered: Array<[string, FlattenedJwe]> = [];
  for (let i = 0; i < 1024; i += 5) {
    tampered.push([`ciphertext byte ${i}`, { ...jwe, ciphertext: flip(jwe.ciphertext, i) }]);
  }
  for (let i = 0; i < 16; i++) tampered.push([`tag byte ${i}`, { ...jwe, tag: flip(jwe.tag, i) }]);
  for (let i = 0; i < 12; i++) tampered.push([`iv byte ${i}`, { ...jwe, iv: flip(jwe.iv, i) }]);
  tampered.push(["header", { ...jwe, protected: jwe.protected.slice(0, -2) + "fQ" }]);
  tampered.push(["truncated ciphertext", { ...jwe, ciphertext: jwe.ciphertext.slice(0, -4) }]);
  tampered.push(["empty ciphertext", { ...jwe, ciphertext: "" }]);
  tampered.push(["swapped tag and iv", { ...jwe, tag: jwe.iv, iv: jwe.tag }]);
  const other = await importAesKey(crypto.getRandomValues(new Uint8Array(32)));
  for (const [what, candidate] of tampered) {
    assert.equal(await webOpens(candidate), false, `${what}: Web Crypto opened it`);
    await assert.rejects(decryptJwe(candidate, key), {
      name: "MleError",
      code: "ERR_DECRYPTION_FAILED",
      message: "Cannot decrypt envelope",
    }, what);
  }
  await assert.rejects(decryptJwe(jwe, other), { code: "ERR_DECRYPTION_FAILED" });
  await assert.rejects(decryptJwe(jwe, null), { code: "ERR_DECRYPTION_FAILED" });
  assert.equal(tampered.length, 205 + 16 + 12 + 4);
});

Deno.test("encryptJwe() through node:crypto opens with plain Web Crypto, and the reverse", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const { key } = await importContentKey(raw, "0".repeat(40), "AA");
  assert.ok(nodeTwinOf(key));
  const webKey = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  assert.equal(nodeTwinOf(webKey), undefined);
  const kid = "0".repeat(40);
  for (const length of [0, 1, 15, 16, 17, 1024, 70_000]) {
    const plaintext = crypto.getRandomValues(new Uint8Array(Math.min(length, 65536)));
    const fast = await encryptJwe({ kid, encryptedKey: "AA", key }, { n: length }, plaintext);
    assert.deepEqual(await decryptJwe(fast, webKey), plaintext, `fast → Web Crypto, ${length}`);
    const web = await encryptJwe(
      { kid, encryptedKey: "AA", key: webKey },
      { n: length },
      plaintext,
    );
    assert.deepEqual(await decryptJwe(web, key), plaintext, `Web Crypto → fast, ${length}`);
  }
});

Deno.test("an IV other than 96 bits is left to Web Crypto, so aes_gcm.ts seals and opens it as Web Crypto does", async () => {
  const key = await importAesKey(crypto.getRandomValues(new Uint8Array(32)));
  assert.ok(nodeTwinOf(key));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const aad = new TextEncoder().encode("header");
  const plaintext = crypto.getRandomValues(new Uint8Array(100));
  assert.equal(encryptAesGcm(key, iv, aad, plaintext), undefined);
  const web = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, key, plaintext),
  );
  assert.equal(decryptAesGcm(key, iv, aad, web), undefined);
  assert.deepEqual(await sealAesGcm(key, iv, aad, plaintext), web);
  assert.deepEqual(await openAesGcm(key, iv, aad, web), plaintext);
});
