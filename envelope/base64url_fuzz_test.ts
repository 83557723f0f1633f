import assert from "node:assert/strict";
import { anyBytes, anyText, errorOf, fc, fuzzParser, mutatedText, noError } from "../tests/fuzz.ts";
import {
  decodeBase64Url,
  decodeBase64UrlText,
  encodeBase64Url,
  encodeBase64UrlText,
} from "./base64url.ts";

const notBase64Url = errorOf(SyntaxError);

Deno.test("fuzz: decodeBase64Url() gives bytes whose encoding is the text, or a SyntaxError", async () => {
  const texts = fc.oneof(
    anyText,
    anyBytes.chain((bytes) => mutatedText(encodeBase64Url(bytes))),
  );
  await fuzzParser("decodeBase64Url", texts, (text) => {
    const bytes = decodeBase64Url(text);
    // One text form per byte string: whatever it accepts is the canonical encoding.
    assert.equal(encodeBase64Url(bytes), text);
    assert.ok(bytes.length <= (text.length * 3) / 4);
  }, notBase64Url);
});

Deno.test("fuzz: decodeBase64Url() round-trips any bytes", async () => {
  await fuzzParser("decodeBase64Url(encodeBase64Url)", anyBytes, (bytes) => {
    assert.deepEqual(decodeBase64Url(encodeBase64Url(bytes)), bytes);
  }, noError);
});

Deno.test("fuzz: decodeBase64UrlText() gives text that encodes back, or a SyntaxError or TypeError", async () => {
  const texts = fc.oneof(
    anyText,
    anyText.map(encodeBase64UrlText),
    fc.uint8Array().map(encodeBase64Url),
  );
  await fuzzParser("decodeBase64UrlText", texts, (text) => {
    assert.equal(encodeBase64UrlText(decodeBase64UrlText(text)), text);
  }, errorOf(SyntaxError, TypeError));
});
