import assert from "node:assert/strict";
import {
  anyJson,
  fc,
  fuzzParser,
  joseShaped,
  mleError,
  mutatedJose,
  noError,
  rsaRuns,
} from "../tests/fuzz.ts";
import { encryptionKeyId, generateEncryptionKeyPair } from "./encryption_key.ts";
import {
  createContentKey,
  decryptJwe,
  encryptJwe,
  readJweHeader,
  unwrapContentKey,
} from "./jwe.ts";

const server = await generateEncryptionKeyPair(2048);
const { contentKey } = await createContentKey(
  server.publicKey,
  await encryptionKeyId(server.publicKey),
);
const PLAINTEXT = new TextEncoder().encode("a report");
const SEALED = await encryptJwe(contentKey, { cty: "mle-report+jws", cid: 7, seq: 1 }, PLAINTEXT);
const JWE_MEMBERS = ["protected", "encrypted_key", "iv", "ciphertext", "tag"] as const;

const inputs = fc.oneof(joseShaped(JWE_MEMBERS), mutatedJose(SEALED), anyJson);

Deno.test("fuzz: readJweHeader() reads RSA-OAEP-256/A256GCM with a key id, or refuses with a typed error", async () => {
  await fuzzParser("readJweHeader", inputs, (value) => {
    const { header } = readJweHeader(value);
    assert.equal(header.alg, "RSA-OAEP-256");
    assert.equal(header.enc, "A256GCM");
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_DECRYPTION_FAILED"));
});

Deno.test("fuzz: decryptJwe() opens only the sealed plaintext, or refuses with ERR_DECRYPTION_FAILED", async () => {
  await fuzzParser("readJweHeader+decryptJwe", inputs, async (value) => {
    const { jwe } = readJweHeader(value);
    assert.deepEqual(await decryptJwe(jwe, contentKey.key), PLAINTEXT);
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_DECRYPTION_FAILED"));
});

Deno.test("fuzz: unwrapContentKey() gives the content key or null for an edited wrapped key", async () => {
  const wrapped = mutatedJose(SEALED).map((jwe) => jwe.encrypted_key);
  await fuzzParser(
    "unwrapContentKey",
    wrapped,
    async (encryptedKey) => {
      const raw = await unwrapContentKey(server.privateKey, encryptedKey as string);
      assert.ok(raw === null || encryptedKey === SEALED.encrypted_key);
    },
    noError,
    { runs: rsaRuns() },
  );
});
