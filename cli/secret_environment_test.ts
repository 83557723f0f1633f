import assert from "node:assert/strict";
import { isSecretVariable, secretVariable, withdrawSecretVariables } from "./secret_environment.ts";

Deno.test("withdrawSecretVariables() takes every MLE_*_PASSWORD out of the environment, keeping its value", () => {
  const names = ["MLE_SITE_PASSWORD", "MLE_TEST_ONLY_PASSWORD"];
  for (const name of names) Deno.env.set(name, `value of ${name}`);
  Deno.env.set("MLE_TEST_ONLY_SETTING", "kept");
  try {
    withdrawSecretVariables();
    for (const name of names) {
      assert.equal(Deno.env.get(name), undefined, `${name} is still in the environment`);
      assert.equal(secretVariable(name), `value of ${name}`);
    }
    assert.equal(Deno.env.get("MLE_TEST_ONLY_SETTING"), "kept", "other variables stay");

    // Set again (a test, a second command in one process): the new value wins.
    Deno.env.set("MLE_SITE_PASSWORD", "changed");
    withdrawSecretVariables();
    assert.equal(Deno.env.get("MLE_SITE_PASSWORD"), undefined);
    assert.equal(secretVariable("MLE_SITE_PASSWORD"), "changed");
  } finally {
    Deno.env.delete("MLE_TEST_ONLY_SETTING");
  }
});

Deno.test("secretVariable() takes a variable out of the environment at its first read", () => {
  Deno.env.set("MLE_TEST_READ_PASSWORD", "read once");
  assert.equal(secretVariable("MLE_TEST_READ_PASSWORD"), "read once");
  assert.equal(Deno.env.get("MLE_TEST_READ_PASSWORD"), undefined);
  assert.equal(secretVariable("MLE_TEST_READ_PASSWORD"), "read once", "a second read still works");
  assert.equal(secretVariable("MLE_TEST_NEVER_SET_PASSWORD"), undefined);
});

Deno.test("secretVariable() refuses names that are not MLE_*_PASSWORD", () => {
  assert.equal(isSecretVariable("MLE_RELAY_SHARED_PASSWORD"), true);
  assert.equal(isSecretVariable("MLE_DATA_DIR"), false);
  assert.equal(isSecretVariable("PASSWORD"), false);
  assert.throws(() => secretVariable("MLE_DATA_DIR"), RangeError);
});
