import assert from "node:assert/strict";
import { bundleRefusal, readBundleResults } from "./bundle_results.ts";

Deno.test("readBundleResults() reads one result per report, and null for any other answer", () => {
  const results = readBundleResults({
    results: [
      { status: "stored" },
      { status: "duplicate" },
      { status: "refused", code: "ERR_SIGNATURE_INVALID", message: "x".repeat(1000) },
      { status: "refused" },
      { status: "later" },
      null,
    ],
  }, 6);
  assert.ok(results !== null);
  assert.deepEqual(results.map((result) => result.kind), [
    "stored",
    "duplicate",
    "refused",
    "refused",
    "unread",
    "unread",
  ]);
  assert.deepEqual(results[2], {
    kind: "refused",
    code: "ERR_SIGNATURE_INVALID",
    message: "x".repeat(300),
  });
  assert.deepEqual(results[3], { kind: "refused", code: "none", message: "" });
  assert.equal(readBundleResults({ results: [{ status: "stored" }] }, 2), null);
  assert.equal(readBundleResults({ results: "stored" }, 1), null);
  assert.equal(readBundleResults(null, 0), null);
});

Deno.test("bundleRefusal() says how long bundles pause, why, and what to do first", () => {
  const notAllowed = bundleRefusal(403, "ERR_RELAY_NOT_ALLOWED", 7);
  assert.equal(notAllowed.pauseMs, 30_000);
  assert.match(notAllowed.reason, /mle-admin relays allow 7 --site-key FILE/);
  assert.equal(notAllowed.then, null);
  assert.equal(bundleRefusal(403, "ERR_UNKNOWN_COMPUTER", 7).then, "register-again");
  assert.equal(bundleRefusal(400, "ERR_UNKNOWN_KEY_ID", 7).then, "fetch-certificate");
  const other = bundleRefusal(400, "ERR_BUNDLE_INVALID", 7);
  assert.equal(other.pauseMs, 5 * 60_000);
  assert.match(other.reason, /400 ERR_BUNDLE_INVALID/);
});
