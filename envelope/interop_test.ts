/**
 * Interoperability with an independent JOSE implementation (npm `jose`, used in tests only): what
 * we seal and sign, it opens and verifies; what it seals and signs in our profile, we accept.
 */

import assert from "node:assert/strict";
import * as jose from "jose";
import {
  clientKeyPair as client,
  newServerContentKey,
  serverKeyPair as server,
  serverKid as kid,
} from "./_test_keys.ts";
import { decodeBase64UrlText } from "./base64url.ts";
import { exportPkcs8, exportSpki } from "./encryption_key.ts";
import { decryptJwe, encryptJwe, importAesKey, readJweHeader, unwrapContentKey } from "./jwe.ts";
import { signJws, verifyJws } from "./jws.ts";
import { decodePem, encodePem } from "./pem.ts";
import {
  openSignedReport,
  readUpstreamMessage,
  REPORT_CONTENT_TYPE,
  REPORT_TYPE,
  sealReport,
  verifyMessageSignature,
} from "./report_message.ts";
import { exportSigningPublicKey } from "./signature.ts";
import { signDocument, verifyDocument } from "./signed_document.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// jose reads the private key from the PEM text our key files hold.
const PRIVATE_KEY_PEM = encodePem("PRIVATE KEY", await exportPkcs8(server.privateKey));
const PUBLIC_KEY_PEM = encodePem("PUBLIC KEY", await exportSpki(server.publicKey));
const joseServerPrivateKey = await jose.importPKCS8(PRIVATE_KEY_PEM, "RSA-OAEP-256");
const joseServerPublicKey = await jose.importSPKI(PUBLIC_KEY_PEM, "RSA-OAEP-256");

/** jose restricted to our profile, so that it would refuse anything else we emitted. */
const JOSE_DECRYPT_OPTIONS = {
  keyManagementAlgorithms: ["RSA-OAEP-256"],
  contentEncryptionAlgorithms: ["A256GCM"],
};

/** Our receiver's path for a flattened JWE. */
async function openJwe(value: unknown): Promise<Uint8Array<ArrayBuffer>> {
  const { jwe } = readJweHeader(value);
  const raw = await unwrapContentKey(server.privateKey, jwe.encrypted_key);
  return await decryptJwe(jwe, raw === null ? null : await importAesKey(raw));
}

Deno.test("encodePem() writes PEM that decodePem() and jose read back to the same key", async () => {
  assert.match(
    PRIVATE_KEY_PEM,
    /^-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/,
  );
  assert.deepEqual(decodePem("PRIVATE KEY", PRIVATE_KEY_PEM), await exportPkcs8(server.privateKey));
  assert.deepEqual(decodePem("PUBLIC KEY", PUBLIC_KEY_PEM), await exportSpki(server.publicKey));
  const jwk = await jose.exportJWK(joseServerPublicKey);
  assert.equal(jwk.kty, "RSA");
  assert.equal(jwk.e, "AQAB");
});

Deno.test("jose.flattenedDecrypt() opens what encryptJwe() sealed", async () => {
  const { contentKey } = await newServerContentKey();
  for (const plaintext of [new Uint8Array(0), encoder.encode("a report"), new Uint8Array(5000)]) {
    const sealed = await encryptJwe(contentKey, { cty: "test", cid: 7 }, plaintext);
    const opened = await jose.flattenedDecrypt(sealed, joseServerPrivateKey, JOSE_DECRYPT_OPTIONS);
    assert.deepEqual(opened.plaintext, plaintext);
    assert.deepEqual(opened.protectedHeader, {
      cty: "test",
      cid: 7,
      alg: "RSA-OAEP-256",
      enc: "A256GCM",
      kid,
    });
    assert.equal(opened.unprotectedHeader, undefined);
  }
});

Deno.test("jose.flattenedDecrypt() opens a sealReport() message, and jose.compactVerify() checks its inner JWS", async () => {
  const { contentKey } = await newServerContentKey();
  const report = encoder.encode('{"software":["a","b"]}');
  const sealed = await sealReport(contentKey, client.privateKey, { cid: 7, seq: 3 }, report);
  // The sig member beside the JWE's is ignored by JOSE libraries, as designed.
  const opened = await jose.flattenedDecrypt(sealed, joseServerPrivateKey, JOSE_DECRYPT_OPTIONS);
  assert.equal(opened.protectedHeader?.cty, REPORT_CONTENT_TYPE);
  const inner = await jose.compactVerify(decoder.decode(opened.plaintext), client.publicKey, {
    algorithms: ["EdDSA"],
  });
  assert.deepEqual(inner.payload, report);
  assert.deepEqual(inner.protectedHeader, { alg: "EdDSA", typ: REPORT_TYPE, cid: 7, seq: 3, kid });
});

Deno.test("jose.flattenedVerify() verifies what signJws() and signDocument() signed", async () => {
  const payload = encoder.encode('{"serial":1}');
  const signed = await signJws(client.privateKey, { typ: "mle-report", cid: 7 }, payload);
  const verified = await jose.flattenedVerify(signed, client.publicKey, { algorithms: ["EdDSA"] });
  assert.deepEqual(verified.payload, payload);
  assert.deepEqual(verified.protectedHeader, { alg: "EdDSA", typ: "mle-report", cid: 7 });

  const document = await signDocument(client.privateKey, "mle-masthead", { name: "site" });
  const viaRawKey = await jose.importJWK(
    {
      kty: "OKP",
      crv: "Ed25519",
      x: (await exportSigningPublicKey(client.publicKey)).toBase64({
        alphabet: "base64url",
        omitPadding: true,
      }),
    },
    "EdDSA",
  );
  const verifiedDocument = await jose.flattenedVerify(document, viaRawKey, {
    algorithms: ["EdDSA"],
  });
  assert.deepEqual(JSON.parse(decoder.decode(verifiedDocument.payload)), { name: "site" });
  assert.equal(verifiedDocument.protectedHeader?.typ, "mle-masthead");
});

Deno.test("jose.flattenedVerify() rejects what signJws() signed once the payload is changed", async () => {
  const signed = await signJws(client.privateKey, { typ: "t" }, encoder.encode("a"));
  await assert.rejects(
    jose.flattenedVerify({ ...signed, payload: "Yg" }, client.publicKey, { algorithms: ["EdDSA"] }),
    jose.errors.JWSSignatureVerificationFailed,
  );
});

Deno.test("decryptJwe() opens what jose.FlattenedEncrypt sealed with RSA-OAEP-256 and A256GCM", async () => {
  for (const plaintext of [new Uint8Array(0), encoder.encode("from jose"), new Uint8Array(3000)]) {
    const sealed = await new jose.FlattenedEncrypt(plaintext)
      .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid, cid: 7 })
      .encrypt(joseServerPublicKey);
    const { header } = readJweHeader(sealed);
    assert.deepEqual(header, { alg: "RSA-OAEP-256", enc: "A256GCM", kid, cid: 7 });
    assert.deepEqual(await openJwe(sealed), plaintext);
  }
});

Deno.test("decryptJwe() opens what jose sealed to the CryptoKey generateEncryptionKeyPair() made", async () => {
  const sealed = await new jose.FlattenedEncrypt(encoder.encode("x"))
    .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid })
    .encrypt(server.publicKey);
  assert.deepEqual(await openJwe(sealed), encoder.encode("x"));
});

Deno.test("readJweHeader() refuses what jose sealed with algorithms outside our profile", async () => {
  const oaepSha1Public = await jose.importSPKI(PUBLIC_KEY_PEM, "RSA-OAEP");
  const oaepSha1Private = await jose.importPKCS8(PRIVATE_KEY_PEM, "RSA-OAEP");
  const x = encoder.encode("x");
  const refused: [string, jose.FlattenedJWE, CryptoKey][] = [
    [
      "alg RSA-OAEP",
      await new jose.FlattenedEncrypt(x)
        .setProtectedHeader({ alg: "RSA-OAEP", enc: "A256GCM", kid })
        .encrypt(oaepSha1Public),
      oaepSha1Private,
    ],
    [
      "enc A128GCM",
      await new jose.FlattenedEncrypt(x)
        .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A128GCM", kid })
        .encrypt(joseServerPublicKey),
      joseServerPrivateKey,
    ],
    [
      "no kid",
      await new jose.FlattenedEncrypt(x)
        .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM" })
        .encrypt(joseServerPublicKey),
      joseServerPrivateKey,
    ],
    [
      "kid in an unprotected header",
      await new jose.FlattenedEncrypt(x)
        .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM" })
        .setUnprotectedHeader({ kid })
        .encrypt(joseServerPublicKey),
      joseServerPrivateKey,
    ],
    [
      "additional authenticated data",
      await new jose.FlattenedEncrypt(x)
        .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid })
        .setAdditionalAuthenticatedData(encoder.encode("aad"))
        .encrypt(joseServerPublicKey),
      joseServerPrivateKey,
    ],
  ];
  for (const [what, sealed, joseKey] of refused) {
    // jose itself opens each of them: they are sound JWEs, just not of our profile.
    assert.deepEqual((await jose.flattenedDecrypt(sealed, joseKey)).plaintext, x, what);
    await assert.rejects(openJwe(sealed), {
      name: "MleError",
      code: "ERR_DECRYPTION_FAILED",
      message: "Cannot decrypt envelope",
    }, what);
  }
});

Deno.test("verifyJws() accepts what jose.FlattenedSign signed with EdDSA and the same typ", async () => {
  const payload = encoder.encode('{"serial":9}');
  const signed = await new jose.FlattenedSign(payload)
    .setProtectedHeader({ alg: "EdDSA", typ: "mle-settings", serial: 9 })
    .sign(client.privateKey);
  const { header, payload: verified } = await verifyJws(client.publicKey, signed, "mle-settings");
  assert.deepEqual(header, { alg: "EdDSA", typ: "mle-settings", serial: 9 });
  assert.deepEqual(verified, payload);
  assert.deepEqual(await verifyDocument(client.publicKey, "mle-settings", signed), { serial: 9 });
  await assert.rejects(verifyJws(client.publicKey, signed, "mle-report"), {
    name: "MleError",
    code: "ERR_SIGNATURE_INVALID",
  });
});

Deno.test("openSignedReport() accepts a report jose.CompactSign signed with our claims", async () => {
  const report = encoder.encode('{"hardware":{}}');
  const compact = await new jose.CompactSign(report)
    // jose types kid as a string; a clear report's header names kid null on purpose.
    .setProtectedHeader(
      {
        alg: "EdDSA",
        typ: REPORT_TYPE,
        cid: 7,
        seq: 5,
        kid: null,
      } as unknown as jose.CompactJWSHeaderParameters,
    )
    .sign(client.privateKey);
  assert.deepEqual(
    await openSignedReport(client.publicKey, compact, { cid: 7, seq: 5, kid: null }),
    report,
  );
});

Deno.test("readUpstreamMessage(), verifyMessageSignature() and openSignedReport() accept a message built with jose alone", async () => {
  const report = encoder.encode('{"from":"jose"}');
  const inner = await new jose.CompactSign(report)
    .setProtectedHeader({ alg: "EdDSA", typ: REPORT_TYPE, cid: 7, seq: 6, kid })
    .sign(client.privateKey);
  const jwe = await new jose.FlattenedEncrypt(encoder.encode(inner))
    .setProtectedHeader({
      alg: "RSA-OAEP-256",
      enc: "A256GCM",
      kid,
      cty: REPORT_CONTENT_TYPE,
      cid: 7,
      seq: 6,
    })
    .encrypt(joseServerPublicKey);
  const compactJwe = [jwe.protected, jwe.encrypted_key, jwe.iv, jwe.ciphertext, jwe.tag].join(".");
  const sig = await crypto.subtle.sign("Ed25519", client.privateKey, encoder.encode(compactJwe));
  const message = {
    ...jwe,
    sig: new Uint8Array(sig).toBase64({ alphabet: "base64url", omitPadding: true }),
  };

  const parsed = readUpstreamMessage(message);
  assert.deepEqual(parsed.claims, { cid: 7, seq: 6, kid });
  await verifyMessageSignature(client.publicKey, parsed);
  assert.equal(parsed.kind, "encrypted");
  const plaintext = decoder.decode(await openJwe(parsed.message));
  assert.equal(plaintext, inner);
  assert.deepEqual(await openSignedReport(client.publicKey, plaintext, parsed.claims), report);
  assert.equal(JSON.parse(decodeBase64UrlText(jwe.protected!)).kid, kid);
});
