import assert from "node:assert/strict";
import { anyJson, fc, fuzzParser, mleError, mutatedJose } from "../tests/fuzz.ts";
import { signJws } from "./jws.ts";
import { generateSigningKeyPair } from "./signature.ts";
import { signDocument, verifyDocument } from "./signed_document.ts";

const site = await generateSigningKeyPair();
const SIGNED = await signDocument(site.privateKey, "mle-settings", { serial: 1 });

Deno.test("fuzz: verifyDocument() gives a JSON object or refuses with ERR_DOCUMENT_INVALID", async () => {
  const bodies = fc.oneof(
    anyJson.map((body) => JSON.stringify(body)),
    fc.string(),
    fc.string({ unit: "binary" }),
  );
  // Documents the site key really signed, with any payload: the checks behind the signature.
  const signedBodies = bodies.map((text) => ({ text }));
  const inputs = fc.oneof(mutatedJose(SIGNED), anyJson, signedBodies);
  await fuzzParser("verifyDocument", inputs, async (input) => {
    const document = input !== null && typeof input === "object" && "text" in input
      ? await signJws(
        site.privateKey,
        { typ: "mle-settings" },
        new TextEncoder().encode(String(input.text)),
      )
      : input;
    const body = await verifyDocument(site.publicKey, "mle-settings", document);
    assert.ok(typeof body === "object" && body !== null && !Array.isArray(body));
  }, mleError("ERR_DOCUMENT_INVALID"));
});
