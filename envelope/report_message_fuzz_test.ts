import assert from "node:assert/strict";
import {
  fc,
  fuzzParser,
  joseInputs,
  JWS_MEMBERS,
  mleError,
  mutatedJose,
  mutatedText,
  SEALED_MEMBERS,
} from "../tests/fuzz.ts";
import {
  clientKeyPair as client,
  serverContentKey as contentKey,
  serverKid as kid,
} from "./_test_keys.ts";
import { toCompactJws } from "./jws.ts";
import {
  openSignedReport,
  readUpstreamMessage,
  sealReport,
  signReport,
  verifyMessageSignature,
} from "./report_message.ts";

const REPORT = new TextEncoder().encode('{"computerId":7,"seq":1}');
const SEALED = await sealReport(contentKey, client.privateKey, { cid: 7, seq: 1 }, REPORT);
const CLEAR = await signReport(client.privateKey, { cid: 7, seq: 1, kid: null }, REPORT);
const SIGNED_INNER = await signReport(client.privateKey, { cid: 7, seq: 1, kid }, REPORT);

const messages = joseInputs([SEALED, CLEAR], [SEALED_MEMBERS, JWS_MEMBERS]);
const readErrors = mleError("ERR_ENVELOPE_MALFORMED", "ERR_DECRYPTION_FAILED");

Deno.test("fuzz: readUpstreamMessage() reads valid claims, or refuses with a typed error", async () => {
  await fuzzParser("readUpstreamMessage", messages, (value) => {
    const { claims } = readUpstreamMessage(value);
    assert.ok(Number.isSafeInteger(claims.cid) && claims.cid >= 1);
    assert.ok(Number.isSafeInteger(claims.seq) && claims.seq >= 0);
  }, readErrors);
});

Deno.test("fuzz: verifyMessageSignature() passes only the sender's own message, or refuses with a typed error", async () => {
  await fuzzParser("readUpstreamMessage+verifyMessageSignature", messages, async (value) => {
    const parsed = readUpstreamMessage(value);
    await verifyMessageSignature(client.publicKey, parsed);
    assert.deepEqual(
      parsed.claims,
      parsed.kind === "clear" ? { cid: 7, seq: 1, kid: null } : {
        cid: 7,
        seq: 1,
        kid,
      },
    );
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_DECRYPTION_FAILED", "ERR_SIGNATURE_INVALID"));
});

Deno.test("fuzz: openSignedReport() opens only the signed report, or refuses with a typed error", async () => {
  const signed = fc.oneof(
    mutatedText(toCompactJws(SIGNED_INNER)),
    mutatedJose(SIGNED_INNER),
  );
  await fuzzParser("openSignedReport", signed, async (value) => {
    const report = await openSignedReport(
      client.publicKey,
      value as Parameters<typeof openSignedReport>[1],
      { cid: 7, seq: 1, kid },
    );
    assert.deepEqual(report, REPORT);
  }, mleError("ERR_ENVELOPE_MALFORMED", "ERR_SIGNATURE_INVALID"));
});
