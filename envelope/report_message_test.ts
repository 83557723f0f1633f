import assert from "node:assert/strict";
import { flipBit, protectedHeaderOf } from "../tests/jose_tampering.ts";
import { MALFORMED, SIGNATURE_INVALID } from "./_test_errors.ts";
import {
  clientKeyPair as client7,
  serverContentKey as contentKey,
  serverKeyPair as server,
  serverKid as kid,
  strangerKeyPair as client9,
} from "./_test_keys.ts";
import {
  decodeBase64Url,
  decodeBase64UrlText,
  encodeBase64Url,
  encodeBase64UrlText,
} from "./base64url.ts";
import { decryptJwe, encryptJwe, importAesKey, toCompactJwe, unwrapContentKey } from "./jwe.ts";
import { fromCompactJws, signJws, toCompactJws } from "./jws.ts";
import {
  type EncryptedMessage,
  openSignedReport,
  type ParsedMessage,
  readUpstreamMessage,
  REPORT_CONTENT_TYPE,
  REPORT_TYPE,
  type ReportClaims,
  sealReport,
  signReport,
  verifyMessageSignature,
} from "./report_message.ts";
import { signBytes } from "./signature.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Two computers: client7 is honest, client9 is a registered client that tries to pass 7's report
// as its own.
const REPORT = encoder.encode('{"hardware":{"cpu":"x86_64","ram":16384},"software":[]}');
const SEALED = await sealReport(contentKey, client7.privateKey, { cid: 7, seq: 42 }, REPORT);

/** The server's private-key step: the inner compact JWS an encrypted message carries. */
async function decryptInner(parsed: ParsedMessage): Promise<string> {
  assert.equal(parsed.kind, "encrypted");
  const raw = await unwrapContentKey(server.privateKey, parsed.message.encrypted_key);
  const key = raw === null ? null : await importAesKey(raw);
  return decoder.decode(await decryptJwe(parsed.message, key));
}

/** What a client with its own key could send: any JWE plaintext, under its own outer signature. */
async function sealAs(
  signingKey: CryptoKey,
  header: Record<string, unknown>,
  plaintext: string,
): Promise<EncryptedMessage> {
  const jwe = await encryptJwe(contentKey, header, encoder.encode(plaintext));
  const sig = await signBytes(signingKey, encoder.encode(toCompactJwe(jwe)));
  return { ...jwe, sig: encodeBase64Url(sig) };
}

Deno.test("openSignedReport() returns the report sealReport() sealed, after reading, verifying and decrypting", async () => {
  const wire = JSON.parse(JSON.stringify(SEALED));
  const parsed = readUpstreamMessage(wire);
  assert.equal(parsed.kind, "encrypted");
  assert.deepEqual(parsed.claims, { cid: 7, seq: 42, kid });
  assert.equal(parsed.header.cty, REPORT_CONTENT_TYPE);
  await verifyMessageSignature(client7.publicKey, parsed);
  const inner = await decryptInner(parsed);
  assert.deepEqual(await openSignedReport(client7.publicKey, inner, parsed.claims), REPORT);
  // The inner JWS names the same claims as the envelope, and the purpose mle-report.
  const innerHeader = JSON.parse(decodeBase64UrlText(fromCompactJws(inner).protected));
  assert.deepEqual(innerHeader, { alg: "EdDSA", typ: REPORT_TYPE, cid: 7, seq: 42, kid });
});

Deno.test("sealReport() writes a flattened JWE plus a 64-byte outer signature over its compact form", () => {
  assert.deepEqual(Object.keys(SEALED).sort(), [
    "ciphertext",
    "encrypted_key",
    "iv",
    "protected",
    "sig",
    "tag",
  ]);
  assert.equal(decodeBase64Url(SEALED.sig).length, 64);
  assert.deepEqual(protectedHeaderOf(SEALED), {
    cty: REPORT_CONTENT_TYPE,
    cid: 7,
    seq: 42,
    alg: "RSA-OAEP-256",
    enc: "A256GCM",
    kid,
  });
});

Deno.test("openSignedReport() accepts the inner JWS in flattened and compact form", async () => {
  const claims = { cid: 7, seq: 42, kid };
  const flattened = await signReport(client7.privateKey, claims, REPORT);
  assert.deepEqual(await openSignedReport(client7.publicKey, flattened, claims), REPORT);
  assert.deepEqual(
    await openSignedReport(client7.publicKey, toCompactJws(flattened), claims),
    REPORT,
  );
});

Deno.test("openSignedReport() returns the report of a clear message (the signed report alone)", async () => {
  const clear = await signReport(client7.privateKey, { cid: 7, seq: 1, kid: null }, REPORT);
  const parsed = readUpstreamMessage(JSON.parse(JSON.stringify(clear)));
  assert.equal(parsed.kind, "clear");
  assert.deepEqual(parsed.claims, { cid: 7, seq: 1, kid: null });
  await verifyMessageSignature(client7.publicKey, parsed);
  assert.deepEqual(
    await openSignedReport(client7.publicKey, parsed.message, parsed.claims),
    REPORT,
  );
});

Deno.test("readUpstreamMessage() accepts the edges of cid and seq: cid 1, seq 0, the largest safe integer", async () => {
  for (const claims of [{ cid: 1, seq: 0 }, { cid: Number.MAX_SAFE_INTEGER, seq: 2 ** 53 - 1 }]) {
    const sealed = await sealReport(contentKey, client7.privateKey, claims, REPORT);
    assert.deepEqual(readUpstreamMessage(sealed).claims, { ...claims, kid });
  }
});

// The outer signature covers the JWE compact serialization: any change to it, or to what it
// covers, is refused before any private-key operation.
const TAMPERED: [string, (message: EncryptedMessage) => EncryptedMessage][] = [
  ["a flipped bit in the first byte of sig", (m) => ({ ...m, sig: flipBit(m.sig, 0) })],
  ["a flipped bit in the last byte of sig", (m) => ({ ...m, sig: flipBit(m.sig, -1) })],
  ["sig truncated to 63 bytes", (m) => ({
    ...m,
    sig: encodeBase64Url(decodeBase64Url(m.sig).subarray(0, 63)),
  })],
  ["an empty sig", (m) => ({ ...m, sig: "" })],
  ["a sig that is not base64url", (m) => ({ ...m, sig: "!" + m.sig.slice(1) })],
  ["a padded sig", (m) => ({ ...m, sig: m.sig + "==" })],
  ["a sig with a newline", (m) => ({ ...m, sig: m.sig + "\n" })],
  ["a sig with a space inside", (m) => ({ ...m, sig: `${m.sig.slice(0, 8)} ${m.sig.slice(8)}` })],
  ["the sig of another message", (m) => ({ ...m, sig: OTHER_SEALED.sig })],
  ["a changed protected header", (m) => ({
    ...m,
    protected: encodeBase64UrlText(JSON.stringify({ ...protectedHeaderOf(m), seq: 43 })),
  })],
  ["a changed encrypted_key", (m) => ({ ...m, encrypted_key: flipBit(m.encrypted_key, 0) })],
  ["a changed iv", (m) => ({ ...m, iv: flipBit(m.iv, 0) })],
  ["a changed ciphertext", (m) => ({ ...m, ciphertext: flipBit(m.ciphertext, 0) })],
  ["a changed tag", (m) => ({ ...m, tag: flipBit(m.tag, 0) })],
];

const OTHER_SEALED = await sealReport(contentKey, client7.privateKey, { cid: 7, seq: 43 }, REPORT);

for (const [what, tamper] of TAMPERED) {
  Deno.test(`verifyMessageSignature() rejects an encrypted message with ${what}`, async () => {
    const parsed = readUpstreamMessage(tamper(structuredClone(SEALED)));
    await assert.rejects(verifyMessageSignature(client7.publicKey, parsed), {
      ...SIGNATURE_INVALID,
      message: "Cannot accept message: sender signature is not valid",
    });
  });
}

Deno.test("verifyMessageSignature() rejects an encrypted message checked against another client's key", async () => {
  await assert.rejects(
    verifyMessageSignature(client9.publicKey, readUpstreamMessage(SEALED)),
    SIGNATURE_INVALID,
  );
});

Deno.test("verifyMessageSignature() rejects an envelope whose outer signature was replaced by another client's", async () => {
  // Computer 9 re-signs computer 7's envelope: the header still says cid 7, so 7's key is used.
  const resigned = {
    ...SEALED,
    sig: encodeBase64Url(
      await signBytes(client9.privateKey, encoder.encode(toCompactJwe(SEALED))),
    ),
  };
  const parsed = readUpstreamMessage(resigned);
  assert.equal(parsed.claims.cid, 7);
  await assert.rejects(verifyMessageSignature(client7.publicKey, parsed), SIGNATURE_INVALID);
});

Deno.test("verifyMessageSignature() rejects a clear message signed by another client's key or tampered", async () => {
  const clear = await signReport(client7.privateKey, { cid: 7, seq: 1, kid: null }, REPORT);
  await assert.rejects(
    verifyMessageSignature(client9.publicKey, readUpstreamMessage(clear)),
    SIGNATURE_INVALID,
  );
  const tamperedPayload = { ...clear, payload: encodeBase64UrlText('{"hardware":{}}') };
  await assert.rejects(
    verifyMessageSignature(client7.publicKey, readUpstreamMessage(tamperedPayload)),
    SIGNATURE_INVALID,
  );
  const tamperedSignature = { ...clear, signature: flipBit(clear.signature, 5) };
  await assert.rejects(
    verifyMessageSignature(client7.publicKey, readUpstreamMessage(tamperedSignature)),
    SIGNATURE_INVALID,
  );
});

Deno.test("openSignedReport() rejects an inner report whose cid, seq or kid differ from the envelope's", async () => {
  const inner = await decryptInner(readUpstreamMessage(SEALED));
  const mismatches: [string, ReportClaims][] = [
    ["another cid", { cid: 8, seq: 42, kid }],
    ["another seq", { cid: 7, seq: 43, kid }],
    ["seq off by one below", { cid: 7, seq: 41, kid }],
    ["another kid", { cid: 7, seq: 42, kid: "0".repeat(40) }],
    ["no kid (clear)", { cid: 7, seq: 42, kid: null }],
  ];
  for (const [what, expected] of mismatches) {
    await assert.rejects(openSignedReport(client7.publicKey, inner, expected), {
      ...SIGNATURE_INVALID,
      message:
        "Cannot accept report: its signed computer id, sequence or key id differ from the envelope's",
    }, what);
  }
});

Deno.test("openSignedReport() rejects a report signed by another client's key", async () => {
  const inner = await decryptInner(readUpstreamMessage(SEALED));
  await assert.rejects(
    openSignedReport(client9.publicKey, inner, { cid: 7, seq: 42, kid }),
    SIGNATURE_INVALID,
  );
});

Deno.test("openSignedReport() rejects a JWS made for another purpose by the client's key", async () => {
  const claims = { cid: 7, seq: 42, kid };
  for (const typ of ["mle-settings", "mle-masthead", "mle-report+jws"]) {
    const other = await signJws(client7.privateKey, { typ, ...claims }, REPORT);
    await assert.rejects(openSignedReport(client7.publicKey, other, claims), SIGNATURE_INVALID);
  }
});

Deno.test("the server refuses computer 9 re-wrapping computer 7's signed report under cid 9", async () => {
  // Computer 9 got hold of 7's inner JWS (say, as a decrypting relay would see it) and wraps it in
  // an envelope of its own, with claims of its own and a valid outer signature of its own.
  const stolen = await decryptInner(readUpstreamMessage(SEALED));
  const rewrapped = await sealAs(
    client9.privateKey,
    { cty: REPORT_CONTENT_TYPE, cid: 9, seq: 42 },
    stolen,
  );
  const parsed = readUpstreamMessage(rewrapped);
  assert.deepEqual(parsed.claims, { cid: 9, seq: 42, kid });
  await verifyMessageSignature(client9.publicKey, parsed); // the envelope itself is 9's
  const inner = await decryptInner(parsed);
  assert.equal(inner, stolen);
  // Checked with 9's key (the cid of the envelope): 7 signed it.
  await assert.rejects(
    openSignedReport(client9.publicKey, inner, parsed.claims),
    SIGNATURE_INVALID,
  );
  // Checked with 7's key: it names cid 7, not the envelope's 9.
  await assert.rejects(
    openSignedReport(client7.publicKey, inner, parsed.claims),
    SIGNATURE_INVALID,
  );
});

Deno.test("the server refuses a clear report re-wrapped into an encrypted envelope, and the reverse", async () => {
  const clear = await signReport(client7.privateKey, { cid: 7, seq: 42, kid: null }, REPORT);
  const wrapped = await sealAs(
    client7.privateKey,
    { cty: REPORT_CONTENT_TYPE, cid: 7, seq: 42 },
    toCompactJws(clear),
  );
  const parsed = readUpstreamMessage(wrapped);
  await verifyMessageSignature(client7.publicKey, parsed);
  await assert.rejects(
    openSignedReport(client7.publicKey, await decryptInner(parsed), parsed.claims),
    SIGNATURE_INVALID,
  );
  // The inner JWS of an encrypted message, sent in clear, names a key id: not a clear report.
  const inner = fromCompactJws(await decryptInner(readUpstreamMessage(SEALED)));
  assert.throws(() => readUpstreamMessage(inner), {
    ...MALFORMED,
    message: "Cannot read report: a clear-text report names no key id",
  });
});

const BAD_CLAIMS: [string, unknown, unknown, string][] = [
  ["cid 0", 0, 1, "cid"],
  ["a negative cid", -7, 1, "cid"],
  ["a fractional cid", 7.5, 1, "cid"],
  ["a NaN cid", NaN, 1, "cid"],
  ["an infinite cid", Infinity, 1, "cid"],
  ["a cid beyond the safe integers", 2 ** 53, 1, "cid"],
  ["a string cid", "7", 1, "cid"],
  ["a null cid", null, 1, "cid"],
  ["a missing cid", undefined, 1, "cid"],
  ["a negative seq", 7, -1, "seq"],
  ["a fractional seq", 7, 0.5, "seq"],
  ["a seq beyond the safe integers", 7, 2 ** 53, "seq"],
  ["a string seq", 7, "1", "seq"],
  ["a null seq", 7, null, "seq"],
  ["a missing seq", 7, undefined, "seq"],
];

function claimMessage(member: string): string {
  return member === "cid"
    ? "Cannot read envelope: cid must be a positive integer"
    : "Cannot read envelope: seq must be a non-negative integer";
}

for (const [what, cid, seq, member] of BAD_CLAIMS) {
  Deno.test(`sealReport() and signReport() refuse ${what} as ERR_ENVELOPE_MALFORMED`, async () => {
    const expected = { ...MALFORMED, message: claimMessage(member) };
    const claims = { cid, seq } as { cid: number; seq: number };
    await assert.rejects(sealReport(contentKey, client7.privateKey, claims, REPORT), expected);
    await assert.rejects(
      signReport(client7.privateKey, { ...claims, kid: null }, REPORT),
      expected,
    );
  });

  Deno.test(`readUpstreamMessage() refuses an envelope or clear report with ${what} as ERR_ENVELOPE_MALFORMED`, async () => {
    const expected = { ...MALFORMED, message: claimMessage(member) };
    const encrypted = await sealAs(
      client7.privateKey,
      { cty: REPORT_CONTENT_TYPE, cid, seq },
      "x.y.z",
    );
    assert.throws(() => readUpstreamMessage(encrypted), expected);
    const clear = await signJws(
      client7.privateKey,
      { typ: REPORT_TYPE, cid, seq, kid: null },
      REPORT,
    );
    assert.throws(() => readUpstreamMessage(clear), expected);
  });
}

Deno.test("readUpstreamMessage() maps malformed messages to exact codes", async () => {
  const { sig: _sig, ...withoutSig } = SEALED;
  const cases: [string, unknown, string][] = [
    ["null", null, "ERR_ENVELOPE_MALFORMED"],
    ["a string", "report", "ERR_ENVELOPE_MALFORMED"],
    ["an empty object", {}, "ERR_ENVELOPE_MALFORMED"],
    ["an encrypted message without sig", withoutSig, "ERR_ENVELOPE_MALFORMED"],
    ["an encrypted message with a numeric sig", { ...SEALED, sig: 1 }, "ERR_ENVELOPE_MALFORMED"],
    ["an encrypted message without iv", { ...SEALED, iv: undefined }, "ERR_ENVELOPE_MALFORMED"],
    [
      "an encrypted message without cty",
      await sealAs(client7.privateKey, { cid: 7, seq: 1 }, "x.y.z"),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "an encrypted message with another cty",
      await sealAs(client7.privateKey, { cty: "mle-upload+jws", cid: 7, seq: 1 }, "x.y.z"),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "a clear message of another typ",
      await signJws(client7.privateKey, { typ: "mle-settings", cid: 7, seq: 1, kid: null }, REPORT),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "a clear message without kid",
      await signJws(client7.privateKey, { typ: REPORT_TYPE, cid: 7, seq: 1 }, REPORT),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "a clear message naming a key id",
      await signReport(client7.privateKey, { cid: 7, seq: 1, kid }, REPORT),
      "ERR_ENVELOPE_MALFORMED",
    ],
    ["an encrypted message with an unprotected header", {
      ...SEALED,
      unprotected: { cid: 9 },
    }, "ERR_DECRYPTION_FAILED"],
    ["an encrypted message whose header names RSA1_5", {
      ...SEALED,
      protected: encodeBase64UrlText(
        JSON.stringify({ ...protectedHeaderOf(SEALED), alg: "RSA1_5" }),
      ),
    }, "ERR_DECRYPTION_FAILED"],
  ];
  for (const [what, value, code] of cases) {
    assert.throws(() => readUpstreamMessage(value), { name: "MleError", code }, what);
  }
});
