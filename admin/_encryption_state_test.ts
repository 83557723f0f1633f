import assert from "node:assert/strict";
import { encryptionState } from "./_encryption_state.ts";
import { keyRecord as key } from "./_test_utils.ts";

Deno.test("encryptionState() follows the key roles", () => {
  assert.equal(encryptionState([]), "Disabled");
  assert.equal(encryptionState([key("a", "previous"), key("b", "retired")]), "Disabled");
  assert.equal(encryptionState([key("a", "pending")]), "Pending");
  assert.equal(encryptionState([key("a", "current")]), "Enabled");
  assert.equal(encryptionState([key("a", "current"), key("b", "pending")]), "Pending rotation");
});
