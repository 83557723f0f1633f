import assert from "node:assert/strict";
import {
  anyText,
  fc,
  fuzzParser,
  joseInputs,
  JWS_MEMBERS,
  mleError,
  mutatedText,
} from "../tests/fuzz.ts";
import { clientKeyPair as signer } from "./_test_keys.ts";
import { fromCompactJws, readJwsHeader, signJws, toCompactJws, verifyJws } from "./jws.ts";

const PAYLOAD = new TextEncoder().encode('{"serial":1}');
const SIGNED = await signJws(signer.privateKey, { typ: "mle-settings", serial: 1 }, PAYLOAD);

const inputs = joseInputs([SIGNED], [JWS_MEMBERS]);

Deno.test("fuzz: readJwsHeader() reads an EdDSA header with a typ, or refuses with ERR_ENVELOPE_MALFORMED", async () => {
  await fuzzParser("readJwsHeader", inputs, (value) => {
    const { header } = readJwsHeader(value);
    assert.equal(header.alg, "EdDSA");
    assert.equal(typeof header.typ, "string");
  }, mleError("ERR_ENVELOPE_MALFORMED"));
});

Deno.test("fuzz: verifyJws() accepts only the signed payload, or refuses with a typed error", async () => {
  await fuzzParser("verifyJws", inputs, async (value) => {
    const { payload } = await verifyJws(signer.publicKey, value, "mle-settings");
    assert.deepEqual(payload, PAYLOAD);
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_SIGNATURE_INVALID"));
});

Deno.test("fuzz: fromCompactJws() splits three parts or refuses with ERR_ENVELOPE_MALFORMED", async () => {
  const texts = fc.oneof(anyText, mutatedText(toCompactJws(SIGNED)));
  await fuzzParser("fromCompactJws", texts, (text) => {
    assert.equal(toCompactJws(fromCompactJws(text)), text);
  }, mleError("ERR_ENVELOPE_MALFORMED"));
});
