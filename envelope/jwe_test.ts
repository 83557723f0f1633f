import { GCM_IV_LENGTH, GCM_TAG_LENGTH } from "./aes_gcm.ts";
import assert from "node:assert/strict";
import { flipBit, protectedHeaderOf } from "../tests/jose_tampering.ts";
import {
  serverContentKey as contentKey,
  serverContentKeyBytes as contentKeyBytes,
  serverKeyPair as recipient,
  serverKid as kid,
} from "./_test_keys.ts";
import { decodeBase64Url, encodeBase64Url, encodeBase64UrlText } from "./base64url.ts";
import { generateEncryptionKeyPair } from "./encryption_key.ts";
import { MleError, type MleErrorCode } from "./errors.ts";
import {
  CONTENT_KEY_LENGTH,
  createContentKey,
  decryptJwe,
  encryptJwe,
  encryptJweUnderHeader,
  type FlattenedJwe,
  importAesKey,
  importContentKey,
  readJweHeader,
  toCompactJwe,
  unwrapContentKey,
} from "./jwe.ts";

const encoder = new TextEncoder();

// RSA key generation is slow: the shared server key as the recipient, and one stranger's key for
// the whole file.
const stranger = await generateEncryptionKeyPair(2048);

const PLAINTEXT = encoder.encode('{"computer":7,"report":"inventory","items":[1,2,3]}');
const SEALED = await encryptJwe(contentKey, { cty: "test", cid: 7 }, PLAINTEXT);

/** The receiver's path: read the header, unwrap the content key (or not), decrypt. */
async function openJwe(privateKey: CryptoKey, value: unknown): Promise<Uint8Array<ArrayBuffer>> {
  const { jwe } = readJweHeader(value);
  const raw = await unwrapContentKey(privateKey, jwe.encrypted_key);
  return await decryptJwe(jwe, raw === null ? null : await importAesKey(raw));
}

/** Seals with any protected header at all (encryptJwe always writes our alg, enc and kid). */
async function sealWithHeader(
  header: unknown,
  plaintext = PLAINTEXT,
): Promise<FlattenedJwe> {
  const protectedHeader = encodeBase64UrlText(JSON.stringify(header));
  return await sealWithProtected(protectedHeader, plaintext);
}

async function sealWithProtected(
  protectedHeader: string,
  plaintext = PLAINTEXT,
): Promise<FlattenedJwe> {
  return await encryptJweUnderHeader(contentKey, protectedHeader, plaintext);
}

function resize(text: string, length: number): string {
  const bytes = decodeBase64Url(text);
  const resized = new Uint8Array(length);
  resized.set(bytes.subarray(0, length));
  return encodeBase64Url(resized);
}

const DECRYPTION_FAILED = {
  name: "MleError",
  code: "ERR_DECRYPTION_FAILED",
  message: "Cannot decrypt envelope",
} as const;

Deno.test("decryptJwe() opens what encryptJwe() sealed, after readJweHeader() and unwrapContentKey()", async () => {
  const { jwe, header } = readJweHeader(JSON.parse(JSON.stringify(SEALED)));
  assert.deepEqual(header, { cty: "test", cid: 7, alg: "RSA-OAEP-256", enc: "A256GCM", kid });
  const raw = await unwrapContentKey(recipient.privateKey, jwe.encrypted_key);
  assert.deepEqual(raw, contentKeyBytes);
  assert.deepEqual(await decryptJwe(jwe, await importAesKey(raw!)), PLAINTEXT);
});

Deno.test("encryptJwe() seals an empty plaintext and a 1 MiB plaintext", async () => {
  const big = new Uint8Array(1 << 20);
  for (let offset = 0; offset < big.length; offset += 65536) {
    crypto.getRandomValues(big.subarray(offset, offset + 65536));
  }
  for (const plaintext of [new Uint8Array(0), big]) {
    const sealed = await encryptJwe(contentKey, {}, plaintext);
    assert.deepEqual(await openJwe(recipient.privateKey, sealed), plaintext);
  }
});

Deno.test("encryptJwe() gives exact sizes: 256-byte wrapped key, 12-byte IV, 16-byte tag, ciphertext as long as the plaintext", async () => {
  assert.equal(CONTENT_KEY_LENGTH, 32);
  assert.equal(GCM_IV_LENGTH, 12);
  assert.equal(GCM_TAG_LENGTH, 16);
  assert.equal(contentKeyBytes.length, 32);
  assert.equal(contentKey.encryptedKey.length, 342);
  for (const length of [0, 1, 15, 16, 17, 255, 4096]) {
    const sealed = await encryptJwe(contentKey, {}, new Uint8Array(length));
    assert.equal(decodeBase64Url(sealed.encrypted_key).length, 256);
    assert.equal(decodeBase64Url(sealed.iv).length, 12);
    assert.equal(decodeBase64Url(sealed.tag).length, 16);
    assert.equal(decodeBase64Url(sealed.ciphertext).length, length, `plaintext of ${length}`);
    assert.deepEqual(Object.keys(sealed), [
      "protected",
      "encrypted_key",
      "iv",
      "ciphertext",
      "tag",
    ]);
  }
});

Deno.test("encryptJwe() reusing a content key repeats the wrapped key byte for byte and draws a fresh IV each time", async () => {
  const messages = await Promise.all(
    Array.from({ length: 20 }, (_, i) => encryptJwe(contentKey, { seq: i }, PLAINTEXT)),
  );
  assert.equal(new Set(messages.map((m) => m.encrypted_key)).size, 1);
  assert.equal(messages[0].encrypted_key, contentKey.encryptedKey);
  assert.equal(new Set(messages.map((m) => m.iv)).size, messages.length);
  for (const message of messages) {
    assert.deepEqual(await openJwe(recipient.privateKey, message), PLAINTEXT);
  }
});

Deno.test("importContentKey() rebuilds a content key that seals messages the recipient opens", async () => {
  const rebuilt = await importContentKey(contentKeyBytes, kid, contentKey.encryptedKey);
  assert.equal(rebuilt.encryptedKey, contentKey.encryptedKey);
  assert.equal(rebuilt.kid, kid);
  assert.equal(rebuilt.key.extractable, false);
  const sealed = await encryptJwe(rebuilt, {}, PLAINTEXT);
  assert.deepEqual(await openJwe(recipient.privateKey, sealed), PLAINTEXT);
  assert.deepEqual(await openJwe(recipient.privateKey, SEALED), PLAINTEXT);
});

Deno.test("importContentKey() refuses a content key that is not 32 bytes with a RangeError", async () => {
  for (const length of [0, 16, 24, 31, 33]) {
    await assert.rejects(
      importContentKey(new Uint8Array(length), kid, contentKey.encryptedKey),
      RangeError,
    );
  }
});

Deno.test("createContentKey() draws a fresh key and a fresh wrapping each time", async () => {
  const a = await createContentKey(recipient.publicKey, kid);
  const b = await createContentKey(recipient.publicKey, kid);
  assert.notDeepEqual(a.raw, b.raw);
  assert.notEqual(a.contentKey.encryptedKey, b.contentKey.encryptedKey);
  assert.equal(a.contentKey.key.extractable, false);
  assert.deepEqual(await unwrapContentKey(recipient.privateKey, a.contentKey.encryptedKey), a.raw);
});

Deno.test("encryptJwe() writes its own alg, enc and kid whatever the caller's header says", async () => {
  const sealed = await encryptJwe(
    contentKey,
    { alg: "none", enc: "A128GCM", kid: "0".repeat(40), cty: "x" },
    PLAINTEXT,
  );
  assert.deepEqual(protectedHeaderOf(sealed), {
    alg: "RSA-OAEP-256",
    enc: "A256GCM",
    kid,
    cty: "x",
  });
  assert.deepEqual(await openJwe(recipient.privateKey, sealed), PLAINTEXT);
});

Deno.test("toCompactJwe() joins the five members in RFC 7516 order", () => {
  assert.equal(
    toCompactJwe(SEALED),
    [SEALED.protected, SEALED.encrypted_key, SEALED.iv, SEALED.ciphertext, SEALED.tag].join("."),
  );
});

// Every tampering must fail the same way: one code, one message (RFC 7516 §11.5).
const TAMPERED: [string, (jwe: FlattenedJwe) => unknown | Promise<unknown>][] = [
  [
    "a protected header with a member changed",
    (j) => sealedWithProtected(j, { ...protectedHeaderOf(j), cid: 8 }),
  ],
  [
    "a protected header with a member added",
    (j) => sealedWithProtected(j, { ...protectedHeaderOf(j), seq: 1 }),
  ],
  ["a protected header with a member removed", (j) => {
    const { cty: _cty, ...rest } = protectedHeaderOf(j);
    return sealedWithProtected(j, rest);
  }],
  ["a protected header re-serialized with spaces", (j) => ({
    ...j,
    protected: encodeBase64UrlText(JSON.stringify(protectedHeaderOf(j), null, 1)),
  })],
  ["a flipped bit in the protected header", (j) => ({ ...j, protected: flipBit(j.protected, 3) })],
  [
    "a protected header truncated by one character",
    (j) => ({ ...j, protected: j.protected.slice(0, -1) }),
  ],
  [
    "a flipped bit in the first byte of encrypted_key",
    (j) => ({ ...j, encrypted_key: flipBit(j.encrypted_key, 0) }),
  ],
  [
    "a flipped bit in the last byte of encrypted_key",
    (j) => ({ ...j, encrypted_key: flipBit(j.encrypted_key, -1) }),
  ],
  [
    "encrypted_key truncated to 255 bytes",
    (j) => ({ ...j, encrypted_key: resize(j.encrypted_key, 255) }),
  ],
  [
    "encrypted_key extended to 257 bytes",
    (j) => ({ ...j, encrypted_key: resize(j.encrypted_key, 257) }),
  ],
  [
    "encrypted_key truncated by one character",
    (j) => ({ ...j, encrypted_key: j.encrypted_key.slice(0, -1) }),
  ],
  ["an empty encrypted_key", (j) => ({ ...j, encrypted_key: "" })],
  ["encrypted_key of another content key", async (j) => ({
    ...j,
    encrypted_key: (await createContentKey(recipient.publicKey, kid)).contentKey.encryptedKey,
  })],
  ["encrypted_key wrapping a 16-byte key", async (j) => ({ ...j, encrypted_key: await wrap(16) })],
  ["encrypted_key wrapping a 33-byte key", async (j) => ({ ...j, encrypted_key: await wrap(33) })],
  ["encrypted_key wrapped to the stranger's key", async (j) => ({
    ...j,
    encrypted_key: encodeBase64Url(
      new Uint8Array(
        await crypto.subtle.encrypt({ name: "RSA-OAEP" }, stranger.publicKey, contentKeyBytes),
      ),
    ),
  })],
  ["a padded encrypted_key", (j) => ({ ...j, encrypted_key: j.encrypted_key + "==" })],
  ["a flipped bit in the iv", (j) => ({ ...j, iv: flipBit(j.iv, 0) })],
  ["an iv truncated to 11 bytes", (j) => ({ ...j, iv: resize(j.iv, 11) })],
  ["an iv extended to 16 bytes", (j) => ({ ...j, iv: resize(j.iv, 16) })],
  ["an iv truncated by one character", (j) => ({ ...j, iv: j.iv.slice(0, -1) })],
  ["an empty iv", (j) => ({ ...j, iv: "" })],
  ["an iv with a space inside", (j) => ({ ...j, iv: `${j.iv.slice(0, 4)} ${j.iv.slice(4)}` })],
  ["the iv of another message under the same content key", async (j) => ({
    ...j,
    iv: (await encryptJwe(contentKey, protectedHeaderOf(j), PLAINTEXT)).iv,
  })],
  [
    "a flipped bit in the first byte of the ciphertext",
    (j) => ({ ...j, ciphertext: flipBit(j.ciphertext, 0) }),
  ],
  [
    "a flipped bit in the last byte of the ciphertext",
    (j) => ({ ...j, ciphertext: flipBit(j.ciphertext, -1) }),
  ],
  [
    "a ciphertext truncated by one byte",
    (j) => ({ ...j, ciphertext: resize(j.ciphertext, PLAINTEXT.length - 1) }),
  ],
  [
    "a ciphertext extended by one byte",
    (j) => ({ ...j, ciphertext: resize(j.ciphertext, PLAINTEXT.length + 1) }),
  ],
  [
    "a ciphertext truncated by one character",
    (j) => ({ ...j, ciphertext: j.ciphertext.slice(0, -1) }),
  ],
  ["an empty ciphertext", (j) => ({ ...j, ciphertext: "" })],
  ["a flipped bit in the first byte of the tag", (j) => ({ ...j, tag: flipBit(j.tag, 0) })],
  ["a flipped bit in the last byte of the tag", (j) => ({ ...j, tag: flipBit(j.tag, -1) })],
  ["a tag truncated to 15 bytes", (j) => ({ ...j, tag: resize(j.tag, 15) })],
  ["a tag truncated to 12 bytes", (j) => ({ ...j, tag: resize(j.tag, 12) })],
  ["a tag truncated by one character", (j) => ({ ...j, tag: j.tag.slice(0, -1) })],
  ["a tag extended to 17 bytes", (j) => ({ ...j, tag: resize(j.tag, 17) })],
  ["an empty tag", (j) => ({ ...j, tag: "" })],
  ["an all-zero tag", (j) => ({ ...j, tag: encodeBase64Url(new Uint8Array(16)) })],
  ["the last 16 ciphertext bytes moved into the tag", (j) => {
    const ciphertext = decodeBase64Url(j.ciphertext);
    return {
      ...j,
      ciphertext: encodeBase64Url(ciphertext.subarray(0, ciphertext.length - 16)),
      tag: encodeBase64Url(ciphertext.subarray(ciphertext.length - 16)),
    };
  }],
];

function sealedWithProtected(jwe: FlattenedJwe, header: Record<string, unknown>): FlattenedJwe {
  return { ...jwe, protected: encodeBase64UrlText(JSON.stringify(header)) };
}

async function wrap(length: number): Promise<string> {
  const key = crypto.getRandomValues(new Uint8Array(length));
  return encodeBase64Url(
    new Uint8Array(await crypto.subtle.encrypt({ name: "RSA-OAEP" }, recipient.publicKey, key)),
  );
}

for (const [what, tamper] of TAMPERED) {
  Deno.test(`decryptJwe() rejects ${what} with ERR_DECRYPTION_FAILED`, async () => {
    const tampered = await tamper(structuredClone(SEALED));
    assert.notDeepEqual(tampered, SEALED);
    await assert.rejects(openJwe(recipient.privateKey, tampered), DECRYPTION_FAILED);
  });
}

Deno.test("decryptJwe() fails the same way for every kind of tampering", async () => {
  const failures = new Set<string>();
  for (const [, tamper] of TAMPERED) {
    try {
      await openJwe(recipient.privateKey, await tamper(structuredClone(SEALED)));
      assert.fail("a tampered envelope was opened");
    } catch (error) {
      assert.ok(error instanceof MleError);
      failures.add(`${error.name}|${error.code}|${error.message}|${error.cause === undefined}`);
    }
  }
  assert.deepEqual([...failures], ["MleError|ERR_DECRYPTION_FAILED|Cannot decrypt envelope|true"]);
});

Deno.test("decryptJwe() rejects an envelope opened with another RSA key with ERR_DECRYPTION_FAILED", async () => {
  assert.equal(await unwrapContentKey(stranger.privateKey, SEALED.encrypted_key), null);
  await assert.rejects(openJwe(stranger.privateKey, SEALED), DECRYPTION_FAILED);
});

Deno.test("decryptJwe() rejects an intact envelope when the content key failed to unwrap (null)", async () => {
  await assert.rejects(decryptJwe(SEALED, null), DECRYPTION_FAILED);
});

Deno.test("decryptJwe() rejects an intact envelope under the wrong AES key", async () => {
  const wrongKey = await importAesKey(crypto.getRandomValues(new Uint8Array(32)));
  await assert.rejects(decryptJwe(SEALED, wrongKey), DECRYPTION_FAILED);
});

Deno.test("unwrapContentKey() returns null for anything but a 32-byte key wrapped to this RSA key", async () => {
  const cases: [string, string][] = [
    ["not base64url", "!!!"],
    ["padded", contentKey.encryptedKey + "="],
    ["empty", ""],
    ["255 bytes", resize(contentKey.encryptedKey, 255)],
    ["257 bytes", resize(contentKey.encryptedKey, 257)],
    ["512 bytes", resize(contentKey.encryptedKey, 512)],
    ["256 zero bytes", encodeBase64Url(new Uint8Array(256))],
    ["256 0xff bytes", encodeBase64Url(new Uint8Array(256).fill(0xff))],
    ["a flipped bit", flipBit(contentKey.encryptedKey, 100)],
    ["a wrapped 0-byte key", await wrap(0)],
    ["a wrapped 16-byte key", await wrap(16)],
    ["a wrapped 31-byte key", await wrap(31)],
    ["a wrapped 33-byte key", await wrap(33)],
    ["a wrapped 64-byte key", await wrap(64)],
  ];
  for (const [what, encryptedKey] of cases) {
    assert.equal(await unwrapContentKey(recipient.privateKey, encryptedKey), null, what);
  }
  assert.equal((await unwrapContentKey(recipient.privateKey, await wrap(32)))?.length, 32);
});

// Headers naming anything but our algorithms are refused even when the tag would verify: each
// of these envelopes is genuinely sealed under its own header with the real content key.
const REFUSED_HEADERS: [string, unknown][] = [
  ["alg RSA-OAEP (SHA-1)", { alg: "RSA-OAEP", enc: "A256GCM", kid }],
  ["alg RSA1_5", { alg: "RSA1_5", enc: "A256GCM", kid }],
  ["alg RSA-OAEP-384", { alg: "RSA-OAEP-384", enc: "A256GCM", kid }],
  ["alg dir", { alg: "dir", enc: "A256GCM", kid }],
  ["alg A256KW", { alg: "A256KW", enc: "A256GCM", kid }],
  ["alg ECDH-ES", { alg: "ECDH-ES", enc: "A256GCM", kid }],
  ["alg none", { alg: "none", enc: "A256GCM", kid }],
  ["alg in lower case", { alg: "rsa-oaep-256", enc: "A256GCM", kid }],
  ["no alg", { enc: "A256GCM", kid }],
  ["enc A128GCM", { alg: "RSA-OAEP-256", enc: "A128GCM", kid }],
  ["enc A192GCM", { alg: "RSA-OAEP-256", enc: "A192GCM", kid }],
  ["enc A256CBC-HS512", { alg: "RSA-OAEP-256", enc: "A256CBC-HS512", kid }],
  ["no enc", { alg: "RSA-OAEP-256", kid }],
  ["no kid", { alg: "RSA-OAEP-256", enc: "A256GCM" }],
  ["a null kid", { alg: "RSA-OAEP-256", enc: "A256GCM", kid: null }],
  ["a numeric kid", { alg: "RSA-OAEP-256", enc: "A256GCM", kid: 1 }],
  ["an upper-case kid", { alg: "RSA-OAEP-256", enc: "A256GCM", kid: kid.toUpperCase() }],
  ["a 39-character kid", { alg: "RSA-OAEP-256", enc: "A256GCM", kid: kid.slice(1) }],
  ["a 41-character kid", { alg: "RSA-OAEP-256", enc: "A256GCM", kid: kid + "0" }],
  ["a zip member", { alg: "RSA-OAEP-256", enc: "A256GCM", kid, zip: "DEF" }],
  ["a crit member", { alg: "RSA-OAEP-256", enc: "A256GCM", kid, crit: ["exp"] }],
  ["an empty crit member", { alg: "RSA-OAEP-256", enc: "A256GCM", kid, crit: [] }],
  ["a JSON array", [{ alg: "RSA-OAEP-256", enc: "A256GCM", kid }]],
  ["a JSON string", "RSA-OAEP-256"],
  ["JSON null", null],
  ["a JSON number", 256],
];

for (const [what, header] of REFUSED_HEADERS) {
  Deno.test(`readJweHeader() rejects a protected header with ${what} as ERR_DECRYPTION_FAILED`, async () => {
    const sealed = await sealWithHeader(header);
    assert.throws(() => readJweHeader(sealed), DECRYPTION_FAILED);
    await assert.rejects(openJwe(recipient.privateKey, sealed), DECRYPTION_FAILED);
  });
}

Deno.test("readJweHeader() accepts the same header the refused ones are built from", async () => {
  // The control for the table above: sealWithHeader() itself makes envelopes that open.
  const sealed = await sealWithHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid, cid: 7 });
  assert.deepEqual(await openJwe(recipient.privateKey, sealed), PLAINTEXT);
});

const UNREADABLE_PROTECTED: [string, string][] = [
  ["padded base64url", encodeBase64UrlText('{"alg":"RSA-OAEP-256","enc":"A256GCM"}') + "="],
  ["base64 with + and /", "+/+/"],
  ["not JSON", encodeBase64UrlText("not json")],
  ["truncated JSON", encodeBase64UrlText(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}"`)],
  ["invalid UTF-8", encodeBase64Url(new Uint8Array([0x7b, 0xff, 0x7d]))],
  ["empty", ""],
];

for (const [what, protectedHeader] of UNREADABLE_PROTECTED) {
  Deno.test(`readJweHeader() rejects a protected header that is ${what} as ERR_DECRYPTION_FAILED`, async () => {
    const sealed = await sealWithProtected(protectedHeader);
    assert.throws(() => readJweHeader(sealed), DECRYPTION_FAILED);
  });
}

// A JWE carrying headers or AAD outside the protected header is not one of ours.
for (const member of ["unprotected", "header", "aad", "recipients"]) {
  Deno.test(`readJweHeader() rejects a JWE with a JOSE "${member}" member as ERR_DECRYPTION_FAILED`, () => {
    for (const value of [{}, { kid }, "", [], null]) {
      assert.throws(() => readJweHeader({ ...SEALED, [member]: value }), DECRYPTION_FAILED);
    }
  });
}

Deno.test("readJweHeader() ignores members outside JOSE, such as a message's sig", () => {
  const { jwe, header } = readJweHeader({ ...SEALED, sig: "x" });
  assert.equal(jwe.ciphertext, SEALED.ciphertext);
  assert.equal(header.kid, kid);
});

// What is not a flattened JWE at all is malformed, before any key is touched.
const MALFORMED: [string, unknown, string][] = [
  ["null", null, "Cannot read envelope: expected a JSON object"],
  ["undefined", undefined, "Cannot read envelope: expected a JSON object"],
  ["a number", 42, "Cannot read envelope: expected a JSON object"],
  ["a string", toCompactJwe(SEALED), "Cannot read envelope: expected a JSON object"],
  ["a boolean", true, "Cannot read envelope: expected a JSON object"],
  ["an empty array", [], "Cannot read envelope: expected a JSON object"],
  ["an array holding an envelope", [SEALED], "Cannot read envelope: expected a JSON object"],
  ["an empty object", {}, 'Cannot read envelope: member "protected" must be a string'],
  ...(["protected", "encrypted_key", "iv", "ciphertext", "tag"] as const).flatMap((
    member,
  ): [string, unknown, string][] => {
    const message = `Cannot read envelope: member "${member}" must be a string`;
    const { [member]: _dropped, ...without } = SEALED;
    return [
      [`an envelope without "${member}"`, without, message],
      [`an envelope whose "${member}" is null`, { ...SEALED, [member]: null }, message],
      [`an envelope whose "${member}" is a number`, { ...SEALED, [member]: 1 }, message],
      [`an envelope whose "${member}" is bytes`, {
        ...SEALED,
        [member]: decodeBase64Url(SEALED[member]),
      }, message],
      [`an envelope whose "${member}" is an object`, { ...SEALED, [member]: {} }, message],
    ];
  }),
];

Deno.test("readJweHeader() maps every input that is not a flattened JWE to ERR_ENVELOPE_MALFORMED", () => {
  assert.ok(MALFORMED.length > 30);
  for (const [what, value, message] of MALFORMED) {
    const expected: { name: string; code: MleErrorCode; message: string } = {
      name: "MleError",
      code: "ERR_ENVELOPE_MALFORMED",
      message,
    };
    assert.throws(() => readJweHeader(value), expected, what);
  }
});
