import assert from "node:assert/strict";
import {
  anyBytes,
  anyText,
  fc,
  fuzzParser,
  mleError,
  mutatedText,
  noError,
} from "../tests/fuzz.ts";
import { decodePem, encodePem } from "./pem.ts";

Deno.test("fuzz: decodePem() gives the block's bytes or refuses with ERR_KEY_INVALID", async () => {
  const texts = fc.oneof(
    anyText,
    anyBytes.chain((der) => mutatedText(encodePem("PRIVATE KEY", der))),
    fc.tuple(anyText, anyText).map(([before, body]) =>
      `${before}-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`
    ),
  );
  await fuzzParser("decodePem", texts, (text) => {
    assert.ok(decodePem("PRIVATE KEY", text) instanceof Uint8Array);
  }, mleError("ERR_KEY_INVALID"));
});

Deno.test("fuzz: decodePem() round-trips any DER bytes with comments around the block", async () => {
  await fuzzParser("decodePem(encodePem)", fc.tuple(anyBytes, fc.string()), ([der, comment]) => {
    const text = `# ${comment.replaceAll("-", "")}\n${encodePem("PRIVATE KEY", der)}`;
    assert.deepEqual(decodePem("PRIVATE KEY", text), der);
  }, noError);
});
