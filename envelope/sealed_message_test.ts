import assert from "node:assert/strict";
import { MALFORMED, SIGNATURE_INVALID } from "./_test_errors.ts";
import { POSITIVE_INTEGER, textMatching } from "./claim_rules.ts";
import {
  clientKeyPair as client,
  serverContentKey as contentKey,
  serverContentKeyBytes as raw,
  serverKid as kid,
  strangerKeyPair as other,
} from "./_test_keys.ts";
import { UPLOAD_ID } from "./_test_upload.ts";
import { decodeBase64UrlText } from "./base64url.ts";
import { decryptJwe } from "./jwe.ts";
import { toCompactJws } from "./jws.ts";
import { REPORT_MESSAGE, sealReport } from "./report_message.ts";
import {
  readInnerMessageUnverified,
  readSealedMessage,
  readSignedMessage,
  sealedMessageKind,
  sealMessage,
  signMessage,
  verifySealedMessage,
} from "./sealed_message.ts";
import { UPLOAD_MANIFEST_MESSAGE } from "./upload_manifest.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const aesKey = contentKey.key;

/** A sealed-only kind like a relay's bundle, declared here so envelope/ tests stay in envelope/. */
const NOTE = sealedMessageKind<{ cid: number; note: string }>({
  name: "note",
  contentType: "mle-note",
  signatureInvalid: "Cannot accept note: sender signature is not valid",
  claims: { cid: POSITIVE_INTEGER, note: textMatching(/^[a-z]+$/, "lowercase letters") },
});

/** The note every test seals: computer 3, note "n", content "x", signed by `client`. */
function sealNote() {
  return sealMessage(
    NOTE,
    contentKey,
    client.privateKey,
    { cid: 3, note: "n" },
    encoder.encode("x"),
  );
}

/** A report of computer 7 with sequence `seq` and content `{}`, signed by `client`. */
function sealEmptyReport(seq: number) {
  return sealReport(contentKey, client.privateKey, { cid: 7, seq }, encoder.encode("{}"));
}

Deno.test("sealMessage() writes the kind's cty, then its claims, then the JWE members: the wire text of every release", async () => {
  const report = await sealEmptyReport(42);
  assert.equal(
    decodeBase64UrlText(report.protected),
    `{"cty":"mle-report+jws","cid":7,"seq":42,"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}"}`,
  );
  const inner = decoder.decode(await decryptJwe(report, aesKey));
  assert.equal(
    decodeBase64UrlText(inner.split(".")[0]),
    `{"typ":"mle-report","cid":7,"seq":42,"kid":"${kid}","alg":"EdDSA"}`,
  );
  const note = await sealNote();
  assert.equal(
    decodeBase64UrlText(note.protected),
    `{"cty":"mle-note","cid":3,"note":"n","alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}"}`,
  );
  assert.equal(note.encrypted_key, contentKey.encryptedKey);
  assert.equal(raw.length, 32);
});

Deno.test("signMessage() writes typ, then the kind's signed claims in order", async () => {
  const claims = { cid: 7, uid: UPLOAD_ID, kid: null, cs: 4096, cc: 2 };
  const jws = await signMessage(
    UPLOAD_MANIFEST_MESSAGE,
    client.privateKey,
    claims,
    encoder.encode("{}"),
  );
  assert.equal(
    decodeBase64UrlText(jws.protected),
    '{"typ":"mle-upload-manifest","cid":7,"uid":"00112233445566778899aabbccddeeff","kid":null,"cs":4096,"cc":2,"alg":"EdDSA"}',
  );
});

Deno.test("readSealedMessage() refuses a message of another kind by its cty, and one without sig", async () => {
  const report = await sealEmptyReport(1);
  assert.throws(() => readSealedMessage(NOTE, report), {
    ...MALFORMED,
    message: 'Cannot read note: expected cty "mle-note"',
  });
  assert.throws(() => readSignedMessage(UPLOAD_MANIFEST_MESSAGE, report), {
    ...MALFORMED,
    message: 'Cannot read upload manifest: expected cty "mle-upload-manifest+jws"',
  });
  const note = await sealNote();
  assert.throws(() => readSignedMessage(REPORT_MESSAGE, note), MALFORMED);
  const { sig: _sig, ...unsigned } = note;
  assert.throws(() => readSealedMessage(NOTE, unsigned), {
    ...MALFORMED,
    message: 'Cannot read note: member "sig" must be a string',
  });
  assert.deepEqual(readSealedMessage(NOTE, note).claims, { cid: 3, note: "n" });
});

Deno.test("verifySealedMessage() passes the sender's signature only, with the kind's words", async () => {
  const note = await sealNote();
  await verifySealedMessage(NOTE, client.publicKey, note);
  await assert.rejects(verifySealedMessage(NOTE, other.publicKey, note), {
    ...SIGNATURE_INVALID,
    message: "Cannot accept note: sender signature is not valid",
  });
});

Deno.test("readInnerMessageUnverified() returns the content only when the inner JWS is the kind's and names the envelope's claims", async () => {
  const claims = { cid: 7, seq: 5, kid };
  const content = encoder.encode('{"a":1}');
  const inner = toCompactJws(await signMessage(REPORT_MESSAGE, client.privateKey, claims, content));
  assert.deepEqual(readInnerMessageUnverified(REPORT_MESSAGE, inner, claims), content);
  for (const expected of [{ ...claims, cid: 8 }, { ...claims, seq: 6 }, { ...claims, kid: null }]) {
    assert.throws(() => readInnerMessageUnverified(REPORT_MESSAGE, inner, expected), {
      ...SIGNATURE_INVALID,
      message:
        "Cannot accept report: its signed computer id, sequence or key id differ from the envelope's",
    });
  }
  const manifest = toCompactJws(
    await signMessage(UPLOAD_MANIFEST_MESSAGE, client.privateKey, {
      cid: 7,
      uid: UPLOAD_ID,
      kid,
      cs: 1,
      cc: 1,
    }, content),
  );
  assert.throws(
    () => readInnerMessageUnverified(REPORT_MESSAGE, manifest, claims),
    SIGNATURE_INVALID,
  );
  const [protectedHeader, payload] = inner.split(".");
  assert.throws(
    () => readInnerMessageUnverified(REPORT_MESSAGE, `${protectedHeader}.${payload}.c2ln`, claims),
    { ...SIGNATURE_INVALID, message: "Cannot accept report: no inner signature" },
  );
});
