import assert from "node:assert/strict";
import { serverKeyPair as server, serverKid } from "../envelope/_test_keys.ts";
import {
  anyBytes,
  fc,
  fuzzParser,
  mleError,
  signedDocumentCases,
  signedDocumentOf,
} from "../tests/fuzz.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { signJsonJws } from "../envelope/jws.ts";
import { exportSpki, keyIdOfSpki } from "../envelope/encryption_key.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import {
  signEncryptionCertificate,
  verifyEncryptionCertificate,
} from "./encryption_certificate.ts";

const site = await generateSigningKeyPair();
const SPKI = await exportSpki(server.publicKey);
const ENABLED = {
  enabled: true,
  kid: serverKid,
  spki: encodeBase64Url(SPKI),
  bits: 2048,
  issuedAt: 1,
} as const;
const SIGNED = await signEncryptionCertificate(site.privateKey, ENABLED);
const TYPE = "mle-encryption-certificate";

/** An edited SPKI (a byte changed, cut or random) under the key id it hashes to: reaches import. */
const keyEdits = fc.oneof(
  fc.tuple(fc.nat({ max: SPKI.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, bits]) => {
    const copy = SPKI.slice();
    copy[i] ^= bits;
    return copy;
  }),
  fc.nat({ max: SPKI.length }).map((length) => SPKI.slice(0, length)),
  anyBytes,
).map((spki) => ({ spkiWithItsKid: spki }));

const inputs = fc.oneof(
  signedDocumentCases(SIGNED, ENABLED, { enabled: false, issuedAt: 1 }),
  keyEdits,
);

Deno.test("fuzz: verifyEncryptionCertificate() gives a checked key, or refuses with a typed error", async () => {
  await fuzzParser("verifyEncryptionCertificate", inputs, async (input) => {
    const document = "spkiWithItsKid" in input
      ? await signJsonJws(site.privateKey, TYPE, {
        ...ENABLED,
        kid: await keyIdOfSpki(input.spkiWithItsKid),
        spki: encodeBase64Url(input.spkiWithItsKid),
      })
      : await signedDocumentOf(input, site.privateKey, TYPE);
    const { certificate, publicKey } = await verifyEncryptionCertificate(site.publicKey, document);
    if (certificate.enabled) assert.equal(publicKey?.algorithm.name, "RSA-OAEP");
    else assert.equal(publicKey, null);
  }, mleError("ERR_DOCUMENT_INVALID", "ERR_KEY_INVALID"));
});
