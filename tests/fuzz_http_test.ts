/**
 * The short HTTP fuzz in `npm test`: `scripts/fuzz_http.ts` records real traffic (a client
 * through a relay, the relay's report batches, a decrypting relay's bundles, its key record and
 * its signed requests for clients' keys), then sends a few hundred mutations of it, raw over TCP,
 * to both relays and the server, real processes on 127.0.0.1. No answer may be a 5xx, every
 * honest request gets an answer, nothing crashes, and a real report is stored afterwards.
 */

import assert from "node:assert/strict";

Deno.test("a short HTTP fuzz (400 mutated requests to two relays and the server) draws no 5xx, no crash, and a real report is stored after", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      new URL("../scripts/fuzz_http.ts", import.meta.url).pathname,
      "--requests",
      "400",
      "--seed",
      "20261204",
      "--minutes",
      "3",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
  assert.equal(output.code, 0, `${stdout}\n${stderr}`);
  assert.equal(result.requests, 400);
  assert.equal(result.statuses["5xx"], 0);
  assert.equal(result.no_answer, 0);
  assert.equal(result.crashes, 0);
  assert.equal(result.real_report_stored_after, true);
  // The recorded traffic reached every path the issue names.
  for (const path of ["/api/v1/reports/batch", "/api/v1/bundles", "/api/v1/relays/record/"]) {
    assert.match(stderr, new RegExp(`recorded requests: .*${path}`), path);
  }
});
