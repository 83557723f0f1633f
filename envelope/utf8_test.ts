import assert from "node:assert/strict";
import { anyBytes, errorOf, fc, fuzzParser } from "../tests/fuzz.ts";
import { decodeUtf8 } from "./utf8.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** A decoder's verdict on `bytes`: its text, or the class of what it threw. */
function verdictOf(decode: (bytes: Uint8Array) => string, bytes: Uint8Array): string {
  try {
    return `text:${decode(bytes)}`;
  } catch (error) {
    return `error:${(error as Error).constructor.name}`;
  }
}

Deno.test("decodeUtf8() gives the text of UTF-8, a U+FFFD written as such and a dropped byte order mark included", () => {
  assert.equal(decodeUtf8(encoder.encode('{"cid":7}')), '{"cid":7}');
  assert.equal(decodeUtf8(encoder.encode("hé ☃ 𝄞")), "hé ☃ 𝄞");
  assert.equal(decodeUtf8(encoder.encode("a\uFFFDb")), "a\uFFFDb");
  assert.equal(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), "{}");
  assert.equal(decodeUtf8(new Uint8Array()), "");
});

Deno.test("decodeUtf8() refuses bytes that are not UTF-8 with a TypeError, as a fatal TextDecoder does", () => {
  const notUtf8 = [
    [0x80], // a lone continuation byte
    [0xc3], // cut short
    [0xc0, 0xaf], // an overlong "/"
    [0xed, 0xa0, 0x80], // a UTF-16 surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xff],
    [0x7b, 0xef, 0xbf, 0xbd, 0xfe, 0x7d], // a U+FFFD written as such beside a bad byte
  ];
  for (const bytes of notUtf8) {
    assert.throws(() => decodeUtf8(new Uint8Array(bytes)), TypeError, JSON.stringify(bytes));
    assert.throws(() => fatal.decode(new Uint8Array(bytes)), TypeError);
  }
});

Deno.test("fuzz: decodeUtf8() gives the same text or the same refusal as a fatal TextDecoder", async () => {
  // Valid text with bytes spliced in: mostly UTF-8, often broken, sometimes a U+FFFD as such.
  const spliced = fc.tuple(fc.string({ unit: "binary", maxLength: 64 }), anyBytes, fc.nat())
    .map(([text, bytes, at]) => {
      const valid = encoder.encode(text);
      const cut = valid.length === 0 ? 0 : at % valid.length;
      const out = new Uint8Array(valid.length + bytes.length);
      out.set(valid.subarray(0, cut));
      out.set(bytes, cut);
      out.set(valid.subarray(cut), cut + bytes.length);
      return out;
    });
  await fuzzParser("decodeUtf8", fc.oneof(anyBytes, spliced), (bytes) => {
    assert.equal(verdictOf(decodeUtf8, bytes), verdictOf((b) => fatal.decode(b), bytes));
    decodeUtf8(bytes); // again, so that the summary counts what was refused
  }, errorOf(TypeError));
});
