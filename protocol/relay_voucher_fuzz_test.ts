import assert from "node:assert/strict";
import { anyJson, anyText, fc, fuzzParser, mutatedObject, noError } from "../tests/fuzz.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { isRelayPublicKey, signRelayVoucher, verifyRelayVoucher } from "./relay_voucher.ts";

const relay = await generateSigningKeyPair();
const RELAY_KEY = encodeBase64Url(await exportSigningPublicKey(relay.publicKey));
const REGISTRATION = { protected: "eyJ0eXAiOiJ4In0", payload: "e30", signature: "c2ln" };
const STATEMENT = { admitted: true, source: "192.0.2.7" };
const VOUCHER = await signRelayVoucher(relay.privateKey, RELAY_KEY, REGISTRATION, STATEMENT);

Deno.test("fuzz: verifyRelayVoucher() names the relay only for its own voucher, and never throws", async () => {
  const vouchers = fc.oneof(
    mutatedObject(VOUCHER as unknown as Record<string, unknown>),
    anyJson,
  );
  await fuzzParser("verifyRelayVoucher", vouchers, async (voucher) => {
    const verified = await verifyRelayVoucher(voucher, REGISTRATION);
    if (verified !== null) {
      assert.deepEqual(verified, { publicKey: RELAY_KEY, ...STATEMENT });
      assert.equal((voucher as { signature: string }).signature, VOUCHER.signature);
    }
  }, noError);
});

Deno.test("fuzz: isRelayPublicKey() answers without throwing", async () => {
  await fuzzParser("isRelayPublicKey", fc.oneof(anyText, fc.constant(RELAY_KEY)), (text) => {
    assert.equal(typeof isRelayPublicKey(text), "boolean");
  }, noError);
});
