import assert from "node:assert/strict";
import { fc, fuzzParser, mleError, signedDocumentCases, signedDocumentOf } from "../tests/fuzz.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { createMasthead, verifyMasthead } from "./masthead.ts";

const site = await generateSigningKeyPair();
const SITE_KEY = encodeBase64Url(await exportSigningPublicKey(site.publicKey));
const SIGNED = await createMasthead(site.privateKey, SITE_KEY, {
  siteName: "fuzz",
  serverUrls: ["http://127.0.0.1:52311"],
});
const BODY = {
  version: 1,
  siteName: "fuzz",
  sitePublicKey: SITE_KEY,
  serverUrls: ["http://127.0.0.1:52311"],
  port: 52311,
  createdAt: "2024-01-01T00:00:00.000Z",
};

const inputs = signedDocumentCases(SIGNED, BODY);

Deno.test("fuzz: verifyMasthead() gives a masthead of the site key it carries, or refuses with ERR_DOCUMENT_INVALID", async () => {
  await fuzzParser(
    "verifyMasthead",
    fc.tuple(inputs, fc.boolean()),
    async ([input, pinned]) => {
      const document = await signedDocumentOf(input, site.privateKey, "mle-masthead");
      const { masthead } = await verifyMasthead(document, pinned ? SITE_KEY : undefined);
      assert.equal(masthead.sitePublicKey, SITE_KEY);
      assert.equal(masthead.version, 1);
    },
    mleError("ERR_DOCUMENT_INVALID"),
  );
});
