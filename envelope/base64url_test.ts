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

Deno.test("decodeBase64Url() accepts and refuses exactly what the alphabet-checking reference does, over random texts", () => {
  // The reference: the alphabet test first, then the same decoding and canonical-bits check.
  const reference = (text: string): Uint8Array | "refused" => {
    if (!/^[A-Za-z0-9_-]*$/.test(text)) return "refused";
    try {
      const bytes = Uint8Array.fromBase64(text, {
        alphabet: "base64url",
        lastChunkHandling: "loose",
      });
      const unusedBits = text.length % 4 === 2 ? 4 : text.length % 4 === 3 ? 2 : 0;
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      if ((alphabet.indexOf(text.at(-1) ?? "A") & ((1 << unusedBits) - 1)) !== 0) return "refused";
      return bytes;
    } catch {
      return "refused";
    }
  };
  const decoded = (text: string): Uint8Array | "refused" => {
    try {
      return decodeBase64Url(text);
    } catch (error) {
      assert.ok(error instanceof SyntaxError);
      return "refused";
    }
  };
  const pool = "AQgw_-Zz09+/= \t\n\r\f\u00a0.";
  const random = (n: number) => crypto.getRandomValues(new Uint32Array(1))[0] % n;
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    let text: string;
    if (i % 2 === 0) {
      text = Array.from({ length: random(13) }, () => pool[random(pool.length)]).join("");
    } else {
      // A valid encoding with one character inserted, replaced or removed.
      const valid = encodeBase64Url(crypto.getRandomValues(new Uint8Array(random(10))));
      const at = random(valid.length + 1);
      const extra = pool[random(pool.length)];
      text = [
        valid.slice(0, at) + extra + valid.slice(at),
        valid.slice(0, at) + extra + valid.slice(at + 1),
        valid.slice(0, at) + valid.slice(at + 1),
        valid,
      ][random(4)];
    }
    const expected = reference(text);
    assert.deepEqual(decoded(text), expected, JSON.stringify(text));
    if (expected !== "refused") accepted++;
  }
  assert.ok(accepted > 2_000, `only ${accepted} accepted: the inputs exercise too little`);
});
