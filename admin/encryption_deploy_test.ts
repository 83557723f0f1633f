import assert from "node:assert/strict";
import { CliError, UsageError } from "../cli/output.ts";
import { chooseKeyToDeploy } from "./encryption_deploy.ts";
import { keyRecord as key } from "./_test_utils.ts";

Deno.test("chooseKeyToDeploy() picks the pending key or the one named", () => {
  const keys = [key("aaaaaa1", "previous"), key("bbbbbb", "current"), key("cccccc", "pending")];
  assert.equal(chooseKeyToDeploy(keys, undefined).role, "pending");
  assert.equal(chooseKeyToDeploy(keys, "AAAAAA1").kid, "aaaaaa1".padEnd(40, "0"));
  assert.throws(() => chooseKeyToDeploy([key("b", "current")], undefined), CliError);
  assert.throws(() => chooseKeyToDeploy(keys, "dddddd"), /does not know it/);
  assert.throws(() => chooseKeyToDeploy(keys, "abc"), UsageError);
  assert.throws(
    () => chooseKeyToDeploy([key("aaaaaa1", "previous"), key("aaaaaa2", "previous")], "aaaaaa"),
    /matches 2 keys/,
  );
  assert.throws(() => chooseKeyToDeploy([key("eeeeee", "retired")], "eeeeee"), /retired/);
});
