import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { signJsonJws } from "../envelope/jws.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { createMasthead, verifyMasthead } from "./masthead.ts";

const site = await generateSigningKeyPair();
const SITE_KEY = encodeBase64Url(await exportSigningPublicKey(site.publicKey));

/** A masthead-shaped JWS claiming `sitePublicKey`; its signature need not be good. */
async function mastheadClaiming(sitePublicKey: string) {
  const body = { version: 1, siteName: "x", sitePublicKey, serverUrls: [], port: 1, createdAt: "" };
  return await signJsonJws(site.privateKey, "mle-masthead", body);
}

Deno.test("verifyMasthead() accepts a masthead signed by the site key it carries", async () => {
  const document = await createMasthead(site.privateKey, SITE_KEY, {
    siteName: "demo",
    serverUrls: ["http://127.0.0.1:52311"],
  });
  const { masthead } = await verifyMasthead(document, SITE_KEY);
  assert.equal(masthead.siteName, "demo");
});

// Found by masthead_fuzz_test.ts: a key of the wrong length gave ERR_KEY_INVALID, and text that is
// not base64url a SyntaxError, where the reader promises ERR_DOCUMENT_INVALID.
Deno.test("verifyMasthead() refuses a site public key that is not 32 bytes of base64url with ERR_DOCUMENT_INVALID", async () => {
  for (const claimed of [SITE_KEY + "A", "not base64url!", ""]) {
    await assert.rejects(verifyMasthead(await mastheadClaiming(claimed)), {
      name: "MleError",
      code: "ERR_DOCUMENT_INVALID",
    }, JSON.stringify(claimed));
  }
});
