/**
 * The short HTTP fuzz in `npm test`: `scripts/fuzz_http.ts` records real traffic (a client
 * through a relay, the relay's report batches, a decrypting relay's bundles, its key record and
 * its signed requests for clients' keys), then sends a few hundred mutations of it, raw over TCP,
 * to both relays and the server, real processes on 127.0.0.1. No answer may be a 5xx, every
 * honest request gets an answer, nothing crashes, and a real report is stored afterwards.
 */

import assert from "node:assert/strict";
import { runScriptToSuccess } from "./run_script.ts";

/** The fields of the result `scripts/fuzz_http.ts` prints last that this test checks. */
interface FuzzResult {
  requests: number;
  statuses: Record<string, number>;
  no_answer: number;
  crashes: number;
  real_report_stored_after: boolean;
}

Deno.test("a short HTTP fuzz (400 mutated requests to two relays and the server) draws no 5xx, no crash, and a real report is stored after", async () => {
  const args = ["--requests", "400", "--seed", "20261204", "--minutes", "3"];
  const { result, stderr } = await runScriptToSuccess<FuzzResult>("fuzz_http.ts", args);
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
