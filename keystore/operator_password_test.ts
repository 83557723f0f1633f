import assert from "node:assert/strict";
import {
  hashOperatorPassword,
  MAX_OPERATOR_PASSWORD_LENGTH,
  UNKNOWN_OPERATOR_HASH,
  verifyOperatorPassword,
} from "./operator_password.ts";

Deno.test("hashOperatorPassword() salts: two hashes of one password differ, both verify", async () => {
  const one = await hashOperatorPassword("a long passphrase");
  const two = await hashOperatorPassword("a long passphrase");
  assert.notEqual(one, two);
  assert.match(one, /^scrypt\$32768\$8\$1\$/);
  assert.equal(await verifyOperatorPassword("a long passphrase", one), true);
  assert.equal(await verifyOperatorPassword("a long passphrase", two), true);
  assert.equal(await verifyOperatorPassword("a long passphrasE", one), false);
});

Deno.test("verifyOperatorPassword() refuses malformed hashes and oversized input", async () => {
  const stored = await hashOperatorPassword("a long passphrase");
  for (
    const bad of [
      "",
      "md5$x",
      stored.replace("$32768$", "$2$"),
      stored.replace("$32768$", "$1073741824$"),
      stored.slice(0, -4),
    ]
  ) {
    assert.equal(await verifyOperatorPassword("a long passphrase", bad), false, bad);
  }
  assert.equal(
    await verifyOperatorPassword("x".repeat(MAX_OPERATOR_PASSWORD_LENGTH + 1), stored),
    false,
  );
  assert.equal(await verifyOperatorPassword("", stored), false);
  assert.equal(await verifyOperatorPassword("anything at all", UNKNOWN_OPERATOR_HASH), false);
});
