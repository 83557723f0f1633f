import assert from "node:assert/strict";
import {
  anyText,
  countSubtleCalls,
  fc,
  fuzzParser,
  joseInputs,
  JWE_MEMBERS,
  mleError,
  mutatedText,
  noError,
  rsaRuns,
} from "../tests/fuzz.ts";
import { serverContentKey as contentKey, serverKeyPair as server } from "./_test_keys.ts";
import { encodeBase64Url } from "./base64url.ts";
import { decryptJwe, encryptJwe, readJweHeader, unwrapContentKey } from "./jwe.ts";

const PLAINTEXT = new TextEncoder().encode("a report");
const SEALED = await encryptJwe(contentKey, { cty: "mle-report+jws", cid: 7, seq: 1 }, PLAINTEXT);

const inputs = joseInputs([SEALED], [JWE_MEMBERS]);

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

const WRAPPED = SEALED.encrypted_key;

Deno.test("fuzz: unwrapContentKey() answers null, before any RSA operation, for a wrapped key of the wrong size or alphabet", async () => {
  const wrongSize = fc.oneof(anyText, mutatedText(WRAPPED)).filter((text) =>
    text.length !== WRAPPED.length
  );
  using rsa = countSubtleCalls("decrypt");
  await fuzzParser("unwrapContentKey (shape)", wrongSize, async (encryptedKey) => {
    assert.equal(await unwrapContentKey(server.privateKey, encryptedKey), null);
    assert.equal(rsa.calls, 0);
  }, noError);
});

// Each case here costs an RSA-2048 private-key operation (a few ms), so this end-to-end property
// runs rsaRuns() cases (a tenth of FUZZ_RUNS, 1,000 in `npm test`); the property above covers
// every input refused before RSA at the full count.
Deno.test("fuzz: unwrapContentKey() gives the content key or null for a wrapped key of the right size", async () => {
  const rightSize = fc.oneof(
    mutatedText(WRAPPED).filter((text) => text.length === WRAPPED.length),
    fc.uint8Array({ minLength: 256, maxLength: 256 }).map(encodeBase64Url),
  );
  await fuzzParser(
    "unwrapContentKey (RSA)",
    rightSize,
    async (encryptedKey) => {
      const raw = await unwrapContentKey(server.privateKey, encryptedKey);
      assert.ok(raw === null || encryptedKey === WRAPPED);
    },
    noError,
    { runs: rsaRuns() },
  );
});
