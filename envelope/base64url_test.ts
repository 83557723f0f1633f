import assert from "node:assert/strict";
import {
  decodeBase64Url,
  decodeBase64UrlText,
  encodeBase64Url,
  encodeBase64UrlText,
} from "./base64url.ts";

const encoder = new TextEncoder();

// RFC 4648 §10 test vectors, without their padding.
const RFC_4648_VECTORS: [string, string][] = [
  ["", ""],
  ["f", "Zg"],
  ["fo", "Zm8"],
  ["foo", "Zm9v"],
  ["foob", "Zm9vYg"],
  ["fooba", "Zm9vYmE"],
  ["foobar", "Zm9vYmFy"],
];

Deno.test("encodeBase64Url() gives the unpadded RFC 4648 test vectors", () => {
  for (const [text, encoded] of RFC_4648_VECTORS) {
    assert.equal(encodeBase64Url(encoder.encode(text)), encoded, `encoding "${text}"`);
    assert.deepEqual(decodeBase64Url(encoded), encoder.encode(text), `decoding "${encoded}"`);
  }
});

Deno.test("encodeBase64Url() uses - and _ where base64 uses + and /", () => {
  assert.equal(encodeBase64Url(new Uint8Array([251, 255])), "-_8");
  assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xef, 0xbe])), "----");
  assert.equal(encodeBase64Url(new Uint8Array([0xff, 0xff, 0xff])), "____");
  assert.deepEqual(decodeBase64Url("-_8"), new Uint8Array([251, 255]));
});

Deno.test("decodeBase64Url() round-trips every byte value and every length from 0 to 100", () => {
  const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(decodeBase64Url(encodeBase64Url(everyByte)), everyByte);
  for (let length = 0; length <= 100; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    const encoded = encodeBase64Url(bytes);
    assert.match(encoded, /^[A-Za-z0-9_-]*$/);
    assert.equal(encoded.length, Math.ceil(length * 4 / 3));
    assert.deepEqual(decodeBase64Url(encoded), bytes, `length ${length}`);
  }
});

Deno.test("decodeBase64Url() refuses text that is not canonical unpadded base64url", () => {
  const refused: [string, string][] = [
    ["Zg==", "padding"],
    ["Zm8=", "padding"],
    ["Zg=", "partial padding"],
    ["=", "padding alone"],
    ["Zm9v====", "padding after a full block"],
    ["+/8", "base64 + and /"],
    ["-_8+", "a + among base64url"],
    ["ab/c", "a /"],
    ["Zh", "non-zero unused bits in a 2-character final chunk"],
    ["Zk", "non-zero low unused bits in a 2-character final chunk"],
    ["Zm9", "non-zero unused bits in a 3-character final chunk"],
    ["Zm9vYh", "non-canonical final character after a full block"],
    ["A", "a single final character"],
    ["Zm9vY", "a single final character after a full block"],
    ["Zm9v\n", "a trailing newline"],
    ["Zm 9v", "a space inside"],
    [" Zm9v", "a leading space"],
    ["Zm\t8", "a tab inside"],
    ["Z k", "a space that hides non-canonical final bits"],
    ["Zm9v\u00a0", "a non-ASCII space"],
    ["Zm9v.", "a dot"],
    ["Zm9vé", "a non-ASCII letter"],
  ];
  for (const [text, why] of refused) {
    assert.throws(() => decodeBase64Url(text), SyntaxError, `${why}: ${JSON.stringify(text)}`);
  }
});

Deno.test("decodeBase64Url() refuses a value that is not a string", () => {
  for (const value of [undefined, null, 42, new Uint8Array([1]), ["Zg"]]) {
    assert.throws(() => decodeBase64Url(value as unknown as string), SyntaxError);
  }
});

Deno.test("decodeBase64Url() accepts exactly one text form for each byte string", () => {
  // For each 1- and 2-byte final chunk, the only accepted final character is the canonical one.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (const prefix of ["Q", "QU"]) {
    const accepted = [...alphabet].filter((last) => {
      try {
        decodeBase64Url(prefix + last);
        return true;
      } catch {
        return false;
      }
    });
    const expected = prefix.length === 1 ? 4 : 16; // 2^(6 - unused bits) canonical characters
    assert.equal(accepted.length, expected, `after "${prefix}"`);
    for (const last of accepted) {
      const text = prefix + last;
      assert.equal(encodeBase64Url(decodeBase64Url(text)), text);
    }
  }
});

Deno.test("encodeBase64UrlText() and decodeBase64UrlText() round-trip UTF-8 text", () => {
  for (const text of ["", "report", "ünïcödé ✓", "😀 emoji", '{"alg":"EdDSA"}']) {
    assert.equal(decodeBase64UrlText(encodeBase64UrlText(text)), text);
  }
  assert.equal(encodeBase64UrlText('{"alg":"EdDSA"}'), "eyJhbGciOiJFZERTQSJ9");
});

Deno.test("decodeBase64UrlText() refuses bytes that are not UTF-8", () => {
  for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0x61, 0x80]]) {
    assert.throws(
      () => decodeBase64UrlText(encodeBase64Url(new Uint8Array(bytes))),
      TypeError,
      `bytes ${bytes}`,
    );
  }
});
