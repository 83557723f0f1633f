import assert from "node:assert/strict";
import { decodeBase64UrlText, encodeBase64UrlText } from "./base64url.ts";
import { MleError } from "./errors.ts";
import { signJws } from "./jws.ts";
import { generateSigningKeyPair } from "./signature.ts";
import { type DocumentType, signDocument, verifyDocument } from "./signed_document.ts";

const encoder = new TextEncoder();

const site = await generateSigningKeyPair();
const otherSite = await generateSigningKeyPair();
const DOCUMENT_TYPES: DocumentType[] = [
  "mle-masthead",
  "mle-encryption-certificate",
  "mle-settings",
  "mle-revocations",
];
const BODY = { serial: 3, interval: 3600, note: "ünïcödé" };
const SETTINGS = await signDocument(site.privateKey, "mle-settings", BODY);

Deno.test("verifyDocument() returns the body signDocument() signed, for every document type", async () => {
  for (const type of DOCUMENT_TYPES) {
    const document = await signDocument(site.privateKey, type, BODY);
    assert.equal(JSON.parse(decodeBase64UrlText(document.protected)).typ, type);
    assert.deepEqual(await verifyDocument(site.publicKey, type, document), BODY);
    // As stored and sent: through JSON text and back.
    const stored = JSON.parse(JSON.stringify(document));
    assert.deepEqual(await verifyDocument(site.publicKey, type, stored), BODY);
  }
});

Deno.test("verifyDocument() rejects a document of another type (typ confusion)", async () => {
  for (const signedAs of DOCUMENT_TYPES) {
    const document = await signDocument(site.privateKey, signedAs, BODY);
    for (const readAs of DOCUMENT_TYPES.filter((type) => type !== signedAs)) {
      await assert.rejects(verifyDocument(site.publicKey, readAs, document), {
        name: "MleError",
        code: "ERR_DOCUMENT_INVALID",
        message: `Cannot trust ${readAs}: it is not signed by this site's key`,
      }, `${signedAs} read as ${readAs}`);
    }
  }
});

Deno.test("verifyDocument() rejects a site-key JWS made for a purpose that is not a document", async () => {
  const report = await signJws(site.privateKey, { typ: "mle-report" }, encoder.encode("{}"));
  await assert.rejects(verifyDocument(site.publicKey, "mle-settings", report), {
    name: "MleError",
    code: "ERR_DOCUMENT_INVALID",
  });
});

Deno.test("verifyDocument() rejects a document signed by another site's key", async () => {
  await assert.rejects(verifyDocument(otherSite.publicKey, "mle-settings", SETTINGS), {
    name: "MleError",
    code: "ERR_DOCUMENT_INVALID",
    message: "Cannot trust mle-settings: it is not signed by this site's key",
  });
  const forged = await signDocument(otherSite.privateKey, "mle-settings", BODY);
  await assert.rejects(verifyDocument(site.publicKey, "mle-settings", forged), {
    name: "MleError",
    code: "ERR_DOCUMENT_INVALID",
  });
});

Deno.test("verifyDocument() rejects a document whose payload was changed", async () => {
  const payloads = [
    encodeBase64UrlText(JSON.stringify({ ...BODY, serial: 4 })),
    encodeBase64UrlText(JSON.stringify(BODY) + " "),
    encodeBase64UrlText("{}"),
    "",
  ];
  for (const payload of payloads) {
    await assert.rejects(verifyDocument(site.publicKey, "mle-settings", { ...SETTINGS, payload }), {
      name: "MleError",
      code: "ERR_DOCUMENT_INVALID",
    });
  }
});

Deno.test("verifyDocument() keeps the signature failure as the cause", async () => {
  const error = await verifyDocument(otherSite.publicKey, "mle-settings", SETTINGS).then(
    () => assert.fail("verified"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof MleError);
  assert.ok(error.cause instanceof MleError);
  assert.equal(error.cause.code, "ERR_SIGNATURE_INVALID");
});

Deno.test("verifyDocument() rejects anything that is not a signed document as ERR_DOCUMENT_INVALID", async () => {
  const values = [null, undefined, "text", 1, [], {}, { ...SETTINGS, signature: undefined }];
  for (const value of values) {
    await assert.rejects(verifyDocument(site.publicKey, "mle-settings", value), {
      name: "MleError",
      code: "ERR_DOCUMENT_INVALID",
    });
  }
});

Deno.test("verifyDocument() rejects a correctly signed body that is not a JSON object", async () => {
  const bodies: [string, Uint8Array][] = [
    ["not JSON", encoder.encode("serial=3")],
    ["empty", new Uint8Array(0)],
    ["a JSON array", encoder.encode("[1,2]")],
    ["a JSON string", encoder.encode('"settings"')],
    ["a JSON number", encoder.encode("3")],
    ["JSON null", encoder.encode("null")],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d])],
  ];
  for (const [what, body] of bodies) {
    const document = await signJws(site.privateKey, { typ: "mle-settings" }, body);
    await assert.rejects(
      verifyDocument(site.publicKey, "mle-settings", document),
      { name: "MleError", code: "ERR_DOCUMENT_INVALID" },
      what,
    );
  }
});
