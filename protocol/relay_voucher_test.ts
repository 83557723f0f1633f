import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { isRelayPublicKey, signRelayVoucher, verifyRelayVoucher } from "./relay_voucher.ts";

const relay = await generateSigningKeyPair();
const relayKey = encodeBase64Url(await exportSigningPublicKey(relay.publicKey));
const other = await generateSigningKeyPair();
const otherKey = encodeBase64Url(await exportSigningPublicKey(other.publicKey));
const registration = { protected: "eyJ0eXAiOiJyZWcifQ", payload: "eyJhIjoxfQ", signature: "x" };
const statement = { admitted: true, source: "192.0.2.7" };

Deno.test("a voucher names its relay's key and says what it signed for that registration", async () => {
  const voucher = await signRelayVoucher(relay.privateKey, relayKey, registration, statement);
  assert.deepEqual(await verifyRelayVoucher(voucher, registration), {
    publicKey: relayKey,
    ...statement,
  });
  const passed = await signRelayVoucher(relay.privateKey, relayKey, registration, {
    admitted: false,
    source: "2001:db8::7",
  });
  assert.deepEqual(await verifyRelayVoucher(passed, registration), {
    publicKey: relayKey,
    admitted: false,
    source: "2001:db8::7",
  });
});

Deno.test("a voucher's statement cannot be changed: another address or admission breaks it", async () => {
  const voucher = await signRelayVoucher(relay.privateKey, relayKey, registration, {
    admitted: false,
    source: "192.0.2.7",
  });
  assert.equal(await verifyRelayVoucher({ ...voucher, admitted: true }, registration), null);
  assert.equal(await verifyRelayVoucher({ ...voucher, source: "192.0.2.8" }, registration), null);
  assert.equal(await verifyRelayVoucher({ ...voucher, source: null }, registration), null);
  assert.equal(
    await verifyRelayVoucher({ ...voucher, source: "x".repeat(46) }, registration),
    null,
  );
  // Not an address: signed as none.
  const odd = await signRelayVoucher(relay.privateKey, relayKey, registration, {
    admitted: false,
    source: "not an address",
  });
  assert.equal((await verifyRelayVoucher(odd, registration))?.source, null);
});

Deno.test("a voucher for another registration, by another key, or malformed, admits nothing", async () => {
  const voucher = await signRelayVoucher(relay.privateKey, relayKey, registration, statement);
  assert.equal(
    await verifyRelayVoucher(voucher, { ...registration, payload: "eyJhIjoyfQ" }),
    null,
  );
  assert.equal(
    await verifyRelayVoucher(voucher, { ...registration, protected: "eyJ0eXAiOiJ4In0" }),
    null,
  );
  assert.equal(await verifyRelayVoucher({ ...voucher, publicKey: otherKey }, registration), null);
  const cases: unknown[] = [
    null,
    "voucher",
    {},
    { publicKey: relayKey },
    { publicKey: relayKey, signature: 42 },
    { publicKey: "!!", signature: voucher.signature },
    { publicKey: relayKey.slice(0, 20), signature: voucher.signature },
    { publicKey: relayKey, signature: voucher.signature.slice(0, 40) },
    { publicKey: relayKey, signature: "A".repeat(300) },
  ];
  for (const value of cases) {
    assert.equal(await verifyRelayVoucher(value, registration), null, JSON.stringify(value));
  }
});

Deno.test("isRelayPublicKey takes a raw Ed25519 key in base64url only", () => {
  assert.equal(isRelayPublicKey(relayKey), true);
  assert.equal(isRelayPublicKey(relayKey.slice(1)), false);
  assert.equal(isRelayPublicKey(""), false);
  assert.equal(isRelayPublicKey("not a key"), false);
});
