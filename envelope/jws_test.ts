import assert from "node:assert/strict";
import { flipBit } from "../tests/jose_tampering.ts";
import { clientKeyPair as signer, strangerKeyPair as stranger } from "./_test_keys.ts";
import { MALFORMED, SIGNATURE_INVALID } from "./_test_errors.ts";
import {
  decodeBase64Url,
  decodeBase64UrlText,
  encodeBase64Url,
  encodeBase64UrlText,
} from "./base64url.ts";
import {
  type FlattenedJws,
  fromCompactJws,
  readJwsHeader,
  signJws,
  toCompactJws,
  verifyJws,
} from "./jws.ts";
import { signBytes } from "./signature.ts";

const encoder = new TextEncoder();

const PAYLOAD = encoder.encode('{"serial":1,"interval":3600}');
const SIGNED = await signJws(signer.privateKey, { typ: "mle-settings", serial: 1 }, PAYLOAD);

/** Signs any protected header text and payload text as they stand, as a forger with the key would. */
async function signRaw(protectedHeader: string, payload: string): Promise<FlattenedJws> {
  const signature = await signBytes(
    signer.privateKey,
    encoder.encode(`${protectedHeader}.${payload}`),
  );
  return { protected: protectedHeader, payload, signature: encodeBase64Url(signature) };
}

Deno.test("verifyJws() returns the header and payload signJws() signed", async () => {
  const { header, payload } = await verifyJws(signer.publicKey, SIGNED, "mle-settings");
  assert.deepEqual(header, { alg: "EdDSA", typ: "mle-settings", serial: 1 });
  assert.deepEqual(payload, PAYLOAD);
  assert.deepEqual(JSON.parse(decodeBase64UrlText(SIGNED.protected)), header);
  assert.equal(decodeBase64Url(SIGNED.signature).length, 64);
});

Deno.test("verifyJws() accepts an empty payload", async () => {
  const signed = await signJws(signer.privateKey, { typ: "t" }, new Uint8Array(0));
  assert.equal(signed.payload, "");
  assert.deepEqual((await verifyJws(signer.publicKey, signed, "t")).payload, new Uint8Array(0));
});

Deno.test("signJws() is deterministic: Ed25519 signs the same input the same way", async () => {
  const again = await signJws(signer.privateKey, { typ: "mle-settings", serial: 1 }, PAYLOAD);
  assert.deepEqual(again, SIGNED);
});

Deno.test("verifyJws() rejects a JWS made for another purpose (typ confusion)", async () => {
  for (const typ of ["mle-report", "mle-masthead", "MLE-SETTINGS", "mle-settings ", ""]) {
    await assert.rejects(verifyJws(signer.publicKey, SIGNED, typ), {
      ...SIGNATURE_INVALID,
      message: `Cannot verify ${typ}: signature is not valid`,
    });
  }
});

Deno.test("verifyJws() rejects a header whose typ was changed after signing", async () => {
  const header = { ...JSON.parse(decodeBase64UrlText(SIGNED.protected)), typ: "mle-report" };
  const forged = { ...SIGNED, protected: encodeBase64UrlText(JSON.stringify(header)) };
  await assert.rejects(verifyJws(signer.publicKey, forged, "mle-report"), SIGNATURE_INVALID);
});

Deno.test("verifyJws() rejects a JWS signed by another key", async () => {
  await assert.rejects(verifyJws(stranger.publicKey, SIGNED, "mle-settings"), SIGNATURE_INVALID);
  const bySomeoneElse = await signJws(stranger.privateKey, { typ: "mle-settings" }, PAYLOAD);
  await assert.rejects(
    verifyJws(signer.publicKey, bySomeoneElse, "mle-settings"),
    SIGNATURE_INVALID,
  );
});

Deno.test("verifyJws() rejects a tampered payload", async () => {
  const tampered: [string, string][] = [
    ["a changed value", encodeBase64UrlText('{"serial":2,"interval":3600}')],
    ["a flipped bit", flipBit(SIGNED.payload, 0)],
    ["one byte cut", encodeBase64Url(PAYLOAD.subarray(0, -1))],
    ["one byte added", encodeBase64Url(new Uint8Array([...PAYLOAD, 0x20]))],
    ["an empty payload", ""],
  ];
  for (const [what, payload] of tampered) {
    await assert.rejects(
      verifyJws(signer.publicKey, { ...SIGNED, payload }, "mle-settings"),
      SIGNATURE_INVALID,
      what,
    );
  }
});

Deno.test("verifyJws() rejects a tampered or truncated signature", async () => {
  const signature = decodeBase64Url(SIGNED.signature);
  const tampered: [string, string][] = [
    ["a flipped bit in R", flipBit(SIGNED.signature, 0)],
    ["a flipped bit in S", flipBit(SIGNED.signature, -1)],
    ["63 bytes", encodeBase64Url(signature.subarray(0, 63))],
    ["65 bytes", encodeBase64Url(new Uint8Array([...signature, 0]))],
    ["64 zero bytes", encodeBase64Url(new Uint8Array(64))],
    ["empty", ""],
  ];
  for (const [what, sig] of tampered) {
    await assert.rejects(
      verifyJws(signer.publicKey, { ...SIGNED, signature: sig }, "mle-settings"),
      SIGNATURE_INVALID,
      what,
    );
  }
});

Deno.test("verifyJws() rejects a valid signature spelled another way (whitespace, padding)", async () => {
  // One byte string, one text form: otherwise a message could be replayed under a new spelling.
  const respelled: [string, Partial<FlattenedJws>][] = [
    ["a newline in the signature", { signature: `${SIGNED.signature}\n` }],
    ["a space in the signature", {
      signature: `${SIGNED.signature.slice(0, 8)} ${SIGNED.signature.slice(8)}`,
    }],
    ["padding on the signature", { signature: `${SIGNED.signature}==` }],
  ];
  for (const [what, change] of respelled) {
    await assert.rejects(
      verifyJws(signer.publicKey, { ...SIGNED, ...change }, "mle-settings"),
      MALFORMED,
      what,
    );
  }
});

// Headers that are not ours are malformed whatever the signature: the verifier decides `alg`.
const BAD_HEADERS: [string, string][] = [
  ["alg none", encodeBase64UrlText('{"alg":"none","typ":"mle-settings"}')],
  ["alg HS256", encodeBase64UrlText('{"alg":"HS256","typ":"mle-settings"}')],
  ["alg ES256", encodeBase64UrlText('{"alg":"ES256","typ":"mle-settings"}')],
  ["alg Ed25519", encodeBase64UrlText('{"alg":"Ed25519","typ":"mle-settings"}')],
  ["alg in lower case", encodeBase64UrlText('{"alg":"eddsa","typ":"mle-settings"}')],
  ["no alg", encodeBase64UrlText('{"typ":"mle-settings"}')],
  ["no typ", encodeBase64UrlText('{"alg":"EdDSA"}')],
  ["a numeric typ", encodeBase64UrlText('{"alg":"EdDSA","typ":1}')],
  ["a JSON array", encodeBase64UrlText('[{"alg":"EdDSA","typ":"mle-settings"}]')],
  ["JSON null", encodeBase64UrlText("null")],
  ["not JSON", encodeBase64UrlText("alg=EdDSA")],
  ["invalid UTF-8", encodeBase64Url(new Uint8Array([0x7b, 0xff, 0x7d]))],
  ["not base64url", "e30="],
  ["empty", ""],
];

for (const [what, protectedHeader] of BAD_HEADERS) {
  Deno.test(`verifyJws() rejects a protected header with ${what} as ERR_ENVELOPE_MALFORMED`, async () => {
    const signed = await signRaw(protectedHeader, SIGNED.payload);
    assert.throws(() => readJwsHeader(signed), MALFORMED);
    await assert.rejects(verifyJws(signer.publicKey, signed, "mle-settings"), MALFORMED);
  });
}

const NOT_A_JWS: [string, unknown][] = [
  ["null", null],
  ["undefined", undefined],
  ["a number", 1],
  ["the compact form", toCompactJws(SIGNED)],
  ["an empty object", {}],
  ["an array", [SIGNED.protected, SIGNED.payload, SIGNED.signature]],
  ["a JWS without protected", { payload: SIGNED.payload, signature: SIGNED.signature }],
  ["a JWS without payload", { protected: SIGNED.protected, signature: SIGNED.signature }],
  ["a JWS without signature", { protected: SIGNED.protected, payload: SIGNED.payload }],
  ["a JWS with a numeric signature", { ...SIGNED, signature: 1 }],
  ["a JWS with a null payload", { ...SIGNED, payload: null }],
  ["a JWS with a payload that is not base64url", { ...SIGNED, payload: "a+b" }],
  ["a JWS with a signature that is not base64url", { ...SIGNED, signature: "!!" }],
];

Deno.test("verifyJws() maps every input that is not a flattened JWS to ERR_ENVELOPE_MALFORMED", async () => {
  for (const [what, value] of NOT_A_JWS) {
    await assert.rejects(verifyJws(signer.publicKey, value, "mle-settings"), MALFORMED, what);
  }
});

Deno.test("toCompactJws() and fromCompactJws() convert between the two forms", async () => {
  const compact = toCompactJws(SIGNED);
  assert.equal(compact.split(".").length, 3);
  assert.deepEqual(fromCompactJws(compact), SIGNED);
  await verifyJws(signer.publicKey, fromCompactJws(compact), "mle-settings");
});

Deno.test("fromCompactJws() rejects text without exactly three parts", () => {
  for (const compact of ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e"]) {
    assert.throws(() => fromCompactJws(compact), {
      ...MALFORMED,
      message: "Cannot read compact JWS: expected 3 parts",
    });
  }
});
