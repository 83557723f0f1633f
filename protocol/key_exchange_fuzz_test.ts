import assert from "node:assert/strict";
import {
  anyText,
  documentBodies,
  errorOf,
  fc,
  fuzzParser,
  mutatedObject,
  noError,
} from "../tests/fuzz.ts";
import {
  checkProof,
  derivePasswordKey,
  keyExchangeParameters,
  newKeyExchangeSalt,
  proofForSalt,
  proveKeyExchange,
  readKeyExchangeParameters,
} from "./key_exchange.ts";

const REGISTRATION = { protected: "eyJ0eXAiOiJ4In0", payload: "e30", signature: "c2ln" };
const SALT = newKeyExchangeSalt();
const KEY = await derivePasswordKey("a one-time password", SALT);
const PROOF = await proveKeyExchange(REGISTRATION, [KEY]);

Deno.test("fuzz: readKeyExchangeParameters() reads a relay's answer or refuses it with RangeError", async () => {
  const answers = documentBodies(
    keyExchangeParameters([SALT]) as unknown as Record<string, unknown>,
  );
  await fuzzParser("readKeyExchangeParameters", answers, (answer) => {
    const read = readKeyExchangeParameters(answer);
    assert.ok(read.salts.length <= 4);
  }, errorOf(RangeError));
});

Deno.test("fuzz: proofForSalt() and checkProof() accept only the password's own proof, and never throw", async () => {
  const members = fc.oneof(
    documentBodies(PROOF as unknown as Record<string, unknown>),
    fc.array(mutatedObject(PROOF.proofs[0] as unknown as Record<string, unknown>), {
      maxLength: 6,
    }).map((proofs) => ({ proofs })),
    anyText.map((mac) => ({ proofs: [{ salt: SALT, id: KEY.id, mac }] })),
  );
  await fuzzParser("proofForSalt", members, async (member) => {
    const proof = proofForSalt(member, SALT);
    if (proof === null) return;
    const good = await checkProof(REGISTRATION, proof, KEY.key);
    assert.equal(good, proof.mac === PROOF.proofs[0].mac);
  }, noError);
});
