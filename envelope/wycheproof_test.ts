/**
 * Wycheproof vectors (C2SP/wycheproof, pinned in the shared repository) run through our wrappers
 * and through the Web Crypto primitives they stand on. Every run states and asserts its counts, so
 * that a filter gone wrong cannot pass by running nothing.
 *
 * The vectors live outside this repository, at `../shared/testdata/wycheproof/` beside the clone.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { encodeBase64Url } from "./base64url.ts";
import { importEncryptionPrivateKey } from "./encryption_key.ts";
import { MleError } from "./errors.ts";
import { decryptJwe, importAesKey, unwrapContentKey } from "./jwe.ts";
import { decodePem } from "./pem.ts";
import { importSigningPublicKey, verifyBytes } from "./signature.ts";

const WYCHEPROOF_DIR = new URL("../../shared/testdata/wycheproof/", import.meta.url);

type Result = "valid" | "invalid" | "acceptable";

interface OaepVector {
  tcId: number;
  comment: string;
  flags: string[];
  msg: string;
  ct: string;
  label: string;
  result: Result;
}

interface OaepGroup {
  keySize: number;
  sha: string;
  mgf: string;
  mgfSha: string;
  privateKeyPkcs8: string;
  privateKeyPem: string;
  tests: OaepVector[];
}

interface AeadVector {
  tcId: number;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: Result;
}

interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadVector[];
}

interface EddsaVector {
  tcId: number;
  flags: string[];
  msg: string;
  sig: string;
  result: Result;
}

interface EddsaGroup {
  publicKey: { pk: string };
  tests: EddsaVector[];
}

interface VectorFile<Group> {
  algorithm: string;
  numberOfTests: number;
  testGroups: Group[];
}

const RSA_OAEP_SHA256_FILES = [
  ["rsa_oaep_2048_sha256_mgf1sha256_test.json", 2048],
  ["rsa_oaep_3072_sha256_mgf1sha256_test.json", 3072],
  ["rsa_oaep_4096_sha256_mgf1sha256_test.json", 4096],
] as const;
const RSA_OAEP_MISC_FILE = "rsa_oaep_misc_test.json";
const AES_GCM_FILE = "aes_gcm_test.json";
const ED25519_FILE = "ed25519_test.json";

const fileCache = new Map<string, Promise<unknown>>();

/** Reads a vector file after checking it against the pinned SHA256SUMS; fails loudly if absent. */
function loadVectors<Group>(name: string): Promise<VectorFile<Group>> {
  if (!fileCache.has(name)) fileCache.set(name, readPinned(name).then((text) => JSON.parse(text)));
  return fileCache.get(name) as Promise<VectorFile<Group>>;
}

async function readWycheproofFile(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(name, WYCHEPROOF_DIR);
  try {
    return await Deno.readFile(url);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot find Wycheproof vector file "${fileURLToPath(url)}": check out the shared ` +
          `repository beside this one, so that ../shared/testdata/wycheproof/ exists`,
        { cause },
      );
    }
    throw cause;
  }
}

let pinnedSums: Promise<Map<string, string>> | undefined;

async function readPinned(name: string): Promise<string> {
  pinnedSums ??= readWycheproofFile("SHA256SUMS").then((bytes) =>
    new Map(
      new TextDecoder().decode(bytes).trim().split("\n").map((line) => {
        const [sum, file] = line.split(/\s+/);
        return [file, sum];
      }),
    )
  );
  const expected = (await pinnedSums).get(name);
  assert.ok(expected, `Wycheproof file "${name}" is not listed in SHA256SUMS`);
  const bytes = await readWycheproofFile(name);
  const actual = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
  assert.equal(actual, expected, `Wycheproof file "${name}" does not match its pinned SHA-256`);
  return new TextDecoder().decode(bytes);
}

const hex = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.fromHex(text);

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Counts what ran, by outcome, and what was skipped, by reason. */
class Tally {
  readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  report(title: string): void {
    const parts = [...this.counts].sort().map(([key, count]) => `${key} ${count}`);
    console.log(`${title}: ${parts.join(", ")}`);
  }
}

async function decryptOaep(
  key: CryptoKey,
  vector: OaepVector,
): Promise<Uint8Array<ArrayBuffer> | Error> {
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "RSA-OAEP", label: hex(vector.label) },
        key,
        hex(vector.ct),
      ),
    );
  } catch (error) {
    return error as Error;
  }
}

/**
 * Applies the vector's expected result; `acceptable` vectors may go either way, but what they
 * decrypt to must be the message.
 */
function checkOaep(
  vector: OaepVector,
  outcome: Uint8Array<ArrayBuffer> | Error,
  tally: Tally,
): void {
  const where = `tcId ${vector.tcId} (${vector.comment || vector.flags.join(", ")})`;
  if (vector.result === "invalid") {
    assert.ok(outcome instanceof Error, `${where}: an invalid ciphertext was decrypted`);
  } else if (vector.result === "valid") {
    assert.ok(!(outcome instanceof Error), `${where}: ${(outcome as Error).message}`);
    assert.equal(outcome.toHex(), vector.msg, `${where}: wrong message`);
  } else if (!(outcome instanceof Error)) {
    assert.equal(outcome.toHex(), vector.msg, `${where}: wrong message`);
  }
  const decrypted = outcome instanceof Error ? "rejected" : "decrypted";
  tally.add(`${vector.result} ${decrypted}`);
  if (!isUtf8(hex(vector.label))) tally.add("with a non-UTF-8 label");
}

Deno.test("Wycheproof vector files are present beside the repository and match SHA256SUMS", async () => {
  const names = [
    ...RSA_OAEP_SHA256_FILES.map(([name]) => name),
    RSA_OAEP_MISC_FILE,
    AES_GCM_FILE,
    ED25519_FILE,
  ];
  for (const name of names) {
    const file = await loadVectors<{ tests: unknown[] }>(name);
    const total = file.testGroups.reduce((sum, group) => sum + group.tests.length, 0);
    assert.equal(total, file.numberOfTests, `${name}: numberOfTests`);
  }
});

Deno.test("Web Crypto in this Deno passes RSA-OAEP labels as bytes, so non-UTF-8 labels need no skipping", async () => {
  // Wycheproof's README warns that Deno once read OAEP labels as UTF-8 text. Pin the current
  // behaviour: a vector whose label is not UTF-8 decrypts with its exact bytes and fails with
  // the lossy UTF-8 reading of them. If this fails, the label vectors below need a skip policy.
  const file = await loadVectors<OaepGroup>(RSA_OAEP_SHA256_FILES[0][0]);
  const group = file.testGroups[0];
  const vector = group.tests.find((test) => !isUtf8(hex(test.label)) && test.result === "valid");
  assert.ok(vector, "a valid vector with a non-UTF-8 label");
  const { privateKey } = await importEncryptionPrivateKey(hex(group.privateKeyPkcs8));
  const decrypted = await decryptOaep(privateKey, vector);
  assert.ok(!(decrypted instanceof Error), "decrypts with the label's bytes");
  assert.equal(decrypted.toHex(), vector.msg);
  const lossyLabel = new TextEncoder().encode(new TextDecoder().decode(hex(vector.label)));
  const lossy = await decryptOaep(privateKey, { ...vector, label: lossyLabel.toHex() });
  assert.ok(lossy instanceof Error, "does not decrypt with the label read as UTF-8 text");
});

const OAEP_FILE_COUNTS = { "valid decrypted": 18, "invalid rejected": 19, nonUtf8: 5 };

for (const [name, bits] of RSA_OAEP_SHA256_FILES) {
  Deno.test(`RSA-OAEP-256 (${bits}-bit Wycheproof): every valid vector decrypts to its message, every invalid one is rejected`, async () => {
    const file = await loadVectors<OaepGroup>(name);
    const tally = new Tally();
    for (const group of file.testGroups) {
      assert.equal(group.sha, "SHA-256");
      assert.equal(group.mgf, "MGF1");
      assert.equal(group.mgfSha, "SHA-256");
      assert.equal(group.keySize, bits);
      // The key as our key files hold it: PEM, read by our decoder, imported by our importer.
      const pkcs8 = decodePem("PRIVATE KEY", group.privateKeyPem);
      assert.equal(pkcs8.toHex(), group.privateKeyPkcs8);
      const imported = await importEncryptionPrivateKey(pkcs8);
      assert.equal(imported.bits, bits);
      for (const vector of group.tests) {
        checkOaep(vector, await decryptOaep(imported.privateKey, vector), tally);
      }
    }
    tally.report(`Wycheproof ${name}`);
    assert.equal(tally.get("valid decrypted"), OAEP_FILE_COUNTS["valid decrypted"]);
    assert.equal(tally.get("invalid rejected"), OAEP_FILE_COUNTS["invalid rejected"]);
    assert.equal(tally.get("with a non-UTF-8 label"), OAEP_FILE_COUNTS.nonUtf8);
    assert.equal(tally.counts.size, 3, "no other outcome");
  });
}

Deno.test("RSA-OAEP-256 (Wycheproof misc, SHA-256 with MGF1-SHA-256 only): valid vectors decrypt, acceptable ones give the message or nothing", async () => {
  const file = await loadVectors<OaepGroup>(RSA_OAEP_MISC_FILE);
  const tally = new Tally();
  const sizes = new Set<number>();
  for (const group of file.testGroups) {
    // Web Crypto uses one hash for OAEP and MGF1: other groups cannot be expressed.
    if (group.sha !== "SHA-256" || group.mgf !== "MGF1" || group.mgfSha !== "SHA-256") {
      for (const _ of group.tests) tally.add("skipped: other OAEP or MGF1 hash");
      continue;
    }
    sizes.add(group.keySize);
    // Some of these sizes are outside our key policy, so import with Web Crypto directly.
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      decodePem("PRIVATE KEY", group.privateKeyPem),
      { name: "RSA-OAEP", hash: "SHA-256" },
      false,
      ["decrypt"],
    );
    for (const vector of group.tests) {
      checkOaep(vector, await decryptOaep(privateKey, vector), tally);
    }
  }
  tally.report(`Wycheproof ${RSA_OAEP_MISC_FILE}`);
  assert.deepEqual([...sizes].sort((a, b) => a - b), [
    1024,
    1536,
    2048,
    2688,
    3072,
    4032,
    4096,
    8192,
  ]);
  assert.equal(tally.get("valid decrypted"), 32);
  assert.equal(tally.get("acceptable decrypted") + tally.get("acceptable rejected"), 2);
  assert.equal(tally.get("with a non-UTF-8 label"), 16);
  assert.equal(tally.get("skipped: other OAEP or MGF1 hash"), 361);
  assert.equal(tally.get("invalid rejected") + tally.get("valid rejected"), 0);
});

Deno.test("importEncryptionPrivateKey() accepts the 2048/3072/4096-bit Wycheproof keys and refuses other sizes as ERR_KEY_INVALID", async () => {
  const file = await loadVectors<OaepGroup>(RSA_OAEP_MISC_FILE);
  const seen = new Map<number, string>();
  for (const group of file.testGroups) {
    if (seen.has(group.keySize)) continue;
    try {
      const { bits } = await importEncryptionPrivateKey(hex(group.privateKeyPkcs8));
      seen.set(group.keySize, `accepted as ${bits}`);
    } catch (error) {
      assert.ok(error instanceof MleError, String(error));
      seen.set(group.keySize, error.code);
    }
  }
  assert.deepEqual(Object.fromEntries([...seen].sort(([a], [b]) => a - b)), {
    1024: "ERR_KEY_INVALID",
    1536: "ERR_KEY_INVALID",
    2048: "accepted as 2048",
    2688: "ERR_KEY_INVALID",
    3072: "accepted as 3072",
    3104: "ERR_KEY_INVALID",
    4032: "ERR_KEY_INVALID",
    4096: "accepted as 4096",
    8192: "ERR_KEY_INVALID",
  });
});

Deno.test("unwrapContentKey() returns the 32-byte Wycheproof messages and null for every invalid or other-length one", async () => {
  const tally = new Tally();
  for (const [name] of RSA_OAEP_SHA256_FILES) {
    const file = await loadVectors<OaepGroup>(name);
    for (const group of file.testGroups) {
      const { privateKey } = await importEncryptionPrivateKey(hex(group.privateKeyPkcs8));
      for (const vector of group.tests) {
        // The content key is wrapped without a label; labelled vectors are not ours to unwrap.
        if (vector.label !== "") continue;
        const where = `${name} tcId ${vector.tcId}`;
        const unwrapped = await unwrapContentKey(privateKey, encodeBase64Url(hex(vector.ct)));
        if (vector.result === "valid" && vector.msg.length === 64) {
          assert.equal(unwrapped?.toHex(), vector.msg, where);
          tally.add("valid 32-byte key returned");
        } else if (vector.result === "valid") {
          assert.equal(unwrapped, null, `${where}: a ${vector.msg.length / 2}-byte message`);
          tally.add("valid other-length message gave null");
        } else {
          assert.equal(unwrapped, null, `${where}: invalid`);
          tally.add(`${vector.result} gave null`);
        }
      }
    }
  }
  tally.report("Wycheproof RSA-OAEP through unwrapContentKey()");
  assert.equal(tally.get("valid 32-byte key returned"), 3);
  assert.equal(tally.get("valid other-length message gave null"), 27);
  assert.equal(tally.get("invalid gave null"), 57);
  assert.equal(tally.counts.size, 3);
});

async function aesGcmDecrypt(vector: AeadVector): Promise<Uint8Array<ArrayBuffer> | Error> {
  try {
    const key = await crypto.subtle.importKey("raw", hex(vector.key), "AES-GCM", false, [
      "decrypt",
    ]);
    const sealed = hex(vector.ct + vector.tag);
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: hex(vector.iv), additionalData: hex(vector.aad), tagLength: 128 },
        key,
        sealed,
      ),
    );
  } catch (error) {
    return error as Error;
  }
}

Deno.test("Web Crypto AES-GCM (Wycheproof, 96-bit IV, 128-bit tag, all key sizes): valid vectors decrypt and re-encrypt exactly, invalid ones are rejected", async () => {
  const file = await loadVectors<AeadGroup>(AES_GCM_FILE);
  const tally = new Tally();
  for (const group of file.testGroups) {
    if (group.ivSize !== 96 || group.tagSize !== 128) {
      for (const _ of group.tests) tally.add("skipped: IV not 96 bits");
      continue;
    }
    for (const vector of group.tests) {
      const where = `tcId ${vector.tcId} (${vector.flags.join(", ")})`;
      const outcome = await aesGcmDecrypt(vector);
      if (vector.result === "valid") {
        assert.ok(!(outcome instanceof Error), `${where}: ${(outcome as Error).message}`);
        assert.equal(outcome.toHex(), vector.msg, where);
        const key = await crypto.subtle.importKey("raw", hex(vector.key), "AES-GCM", false, [
          "encrypt",
        ]);
        const sealed = await crypto.subtle.encrypt(
          { name: "AES-GCM", iv: hex(vector.iv), additionalData: hex(vector.aad) },
          key,
          hex(vector.msg),
        );
        assert.equal(new Uint8Array(sealed).toHex(), vector.ct + vector.tag, where);
      } else {
        assert.equal(vector.result, "invalid", where);
        assert.ok(outcome instanceof Error, `${where}: an invalid vector was decrypted`);
      }
      tally.add(`AES-${group.keySize} ${vector.result}`);
    }
  }
  tally.report(`Wycheproof ${AES_GCM_FILE} through Web Crypto`);
  assert.deepEqual(Object.fromEntries(tally.counts), {
    "AES-128 valid": 40,
    "AES-128 invalid": 27,
    "AES-192 valid": 37,
    "AES-192 invalid": 27,
    "AES-256 valid": 39,
    "AES-256 invalid": 27,
    "skipped: IV not 96 bits": 119,
  });
});

Deno.test("decryptJwe() (Wycheproof AES-256-GCM, 96-bit IV, AAD expressible as a protected header): valid vectors decrypt, invalid ones give ERR_DECRYPTION_FAILED", async () => {
  // decryptJwe() authenticates the ASCII of the protected header; a vector's AAD can stand in for
  // it when the AAD is UTF-8 (then it is the encoding of some string). Other AADs are skipped.
  const file = await loadVectors<AeadGroup>(AES_GCM_FILE);
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const tally = new Tally();
  for (const group of file.testGroups) {
    if (group.keySize !== 256 || group.ivSize !== 96 || group.tagSize !== 128) continue;
    for (const vector of group.tests) {
      const aad = hex(vector.aad);
      if (!isUtf8(aad)) {
        tally.add("skipped: AAD not UTF-8");
        continue;
      }
      const protectedHeader = decoder.decode(aad);
      assert.equal(new TextEncoder().encode(protectedHeader).toHex(), vector.aad);
      const jwe = {
        protected: protectedHeader,
        encrypted_key: "",
        iv: encodeBase64Url(hex(vector.iv)),
        ciphertext: encodeBase64Url(hex(vector.ct)),
        tag: encodeBase64Url(hex(vector.tag)),
      };
      const key = await importAesKey(hex(vector.key));
      const where = `tcId ${vector.tcId} (${vector.flags.join(", ")})`;
      if (vector.result === "valid") {
        assert.equal((await decryptJwe(jwe, key)).toHex(), vector.msg, where);
      } else {
        await assert.rejects(decryptJwe(jwe, key), {
          name: "MleError",
          code: "ERR_DECRYPTION_FAILED",
          message: "Cannot decrypt envelope",
        }, where);
      }
      tally.add(vector.result);
    }
  }
  tally.report(`Wycheproof ${AES_GCM_FILE} through decryptJwe()`);
  assert.deepEqual(Object.fromEntries(tally.counts), {
    valid: 21,
    invalid: 27,
    "skipped: AAD not UTF-8": 18,
  });
});

Deno.test("verifyBytes() (Wycheproof Ed25519): valid signatures verify, invalid ones give false or ERR_KEY_INVALID", async () => {
  const file = await loadVectors<EddsaGroup>(ED25519_FILE);
  const tally = new Tally();
  for (const group of file.testGroups) {
    let publicKey: CryptoKey | MleError;
    try {
      publicKey = await importSigningPublicKey(hex(group.publicKey.pk));
    } catch (error) {
      assert.ok(error instanceof MleError && error.code === "ERR_KEY_INVALID", String(error));
      publicKey = error;
    }
    for (const vector of group.tests) {
      const where = `tcId ${vector.tcId} (${vector.flags.join(", ")})`;
      if (publicKey instanceof MleError) {
        assert.equal(vector.result, "invalid", `${where}: a valid vector's key was refused`);
        tally.add("invalid key refused");
        continue;
      }
      const verified = await verifyBytes(publicKey, hex(vector.sig), hex(vector.msg));
      assert.equal(verified, vector.result === "valid", where);
      tally.add(`${vector.result} ${verified ? "verified" : "refused"}`);
    }
  }
  tally.report(`Wycheproof ${ED25519_FILE} through verifyBytes()`);
  assert.equal(tally.get("valid verified"), 88);
  assert.equal(tally.get("invalid refused") + tally.get("invalid key refused"), 63);
  assert.equal(tally.get("valid refused") + tally.get("invalid verified"), 0);
});
