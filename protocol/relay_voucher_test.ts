import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { isRelayPublicKey, signRelayVoucher, verifyRelayVoucher } from "./relay_voucher.ts";

const relay = await generateSigningKeyPair();
const relayKey = encodeBase64Url(await exportSigningPublicKey(relay.publicKey));
const other = await generateSigningKeyPair();
const otherKey = encodeBase64Url(await exportSigningPublicKey(other.publicKey));
const registration = { protected: "eyJ0eXAiOiJyZWcifQ", payload: "eyJhIjoxfQ", signature: "x" };

Deno.test("a voucher names its relay's key and admits the registration it signed", async () => {
  const voucher = await signRelayVoucher(relay.privateKey, relayKey, registration);
  assert.equal(await verifyRelayVoucher(voucher, registration), relayKey);
});

Deno.test("a voucher for another registration, by another key, or malformed, admits nothing", async () => {
  const voucher = await signRelayVoucher(relay.privateKey, relayKey, registration);
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
