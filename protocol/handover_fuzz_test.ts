import assert from "node:assert/strict";
import {
  anyJson,
  documentBodies,
  fc,
  fuzzParser,
  mleError,
  mutatedJose,
  signAny,
} from "../tests/fuzz.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { HANDOVER_TYPE, signHandover, verifyHandover } from "./handover.ts";

const oldKey = await generateSigningKeyPair();
const CLAIMS = { oldComputerId: 7, newPublicKey: "A".repeat(43), issuedAt: 1, lastSeq: 3 };
const SIGNED = await signHandover(oldKey.privateKey, CLAIMS);

const inputs = fc.oneof(
  mutatedJose(SIGNED).map((document) => ({ document })),
  anyJson.map((document) => ({ document })),
  documentBodies(CLAIMS).map((body) => ({ body })),
);

Deno.test("fuzz: verifyHandover() gives the old key's claims, or refuses with a typed error", async () => {
  await fuzzParser("verifyHandover", inputs, async (input) => {
    const document = "document" in input
      ? input.document
      : await signAny(oldKey.privateKey, HANDOVER_TYPE, input.body);
    const claims = await verifyHandover(oldKey.publicKey, document);
    assert.ok(Number.isSafeInteger(claims.oldComputerId));
    assert.equal(typeof claims.newPublicKey, "string");
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_SIGNATURE_INVALID"));
});
