import assert from "node:assert/strict";
import {
  acceptRequestId,
  currentRequestId,
  isWellFormedRequestId,
  runWithRequestId,
  withRequestIdHeader,
} from "./request_id.ts";

Deno.test("isWellFormedRequestId() takes 1 to 64 safe characters only", () => {
  for (
    const good of ["a", "abc-1", "0000000000000001-000000-deadbeef", "x".repeat(64), "a.b_c:d"]
  ) {
    assert.equal(isWellFormedRequestId(good), true, good);
  }
  for (
    const bad of ["", "x".repeat(65), "a b", "a\nb", "a=b", 'a"b', "é", null, undefined]
  ) {
    assert.equal(isWellFormedRequestId(bad), false, String(bad));
  }
});

Deno.test("acceptRequestId() keeps a well-formed id and replaces anything else with a new one", () => {
  assert.equal(acceptRequestId("abc-1"), "abc-1");
  const made = acceptRequestId("forged\nline=1");
  assert.match(made, /^[0-9a-f-]{36}$/);
  assert.notEqual(acceptRequestId(null), acceptRequestId(null));
});

Deno.test("withRequestIdHeader() adds the current id, keeps one already given, or makes one", async () => {
  await runWithRequestId("r-1", async () => {
    await Promise.resolve();
    assert.equal(currentRequestId(), "r-1");
    assert.equal(withRequestIdHeader({ "content-type": "text/plain" }).get("x-request-id"), "r-1");
    assert.equal(withRequestIdHeader({ "x-request-id": "mine" }).get("x-request-id"), "mine");
  });
  assert.equal(currentRequestId(), undefined);
  assert.match(withRequestIdHeader(undefined).get("x-request-id")!, /^[0-9a-f-]{36}$/);
});
