import assert from "node:assert/strict";
import {
  backoffDelayMs,
  MAX_RETRY_AFTER_JITTER_MS,
  MIN_RETRY_AFTER_JITTER_MS,
  retryAfterDelayMs,
  retryDelayMs,
} from "./backoff.ts";

const BOUNDS = { minMs: 500, maxMs: 30_000 };

Deno.test("backoffDelayMs() doubles its ceiling up to the maximum, jittered below it", () => {
  assert.deepEqual([1, 2, 3, 4].map((streak) => backoffDelayMs(streak, BOUNDS, () => 1)), [
    500,
    1_000,
    2_000,
    4_000,
  ]);
  assert.equal(backoffDelayMs(1, BOUNDS, () => 0), 250);
  assert.equal(backoffDelayMs(50, BOUNDS, () => 1), 30_000);
  assert.equal(backoffDelayMs(50, BOUNDS, () => 0), 15_000);
});

Deno.test("retryAfterDelayMs() is never earlier than Retry-After and spreads up to as much again", () => {
  assert.equal(retryAfterDelayMs(15_000, () => 0), 15_000);
  assert.equal(retryAfterDelayMs(15_000, () => 0.5), 22_500);
  assert.equal(retryAfterDelayMs(15_000, () => 0.999999), 30_000);
  for (let i = 0; i < 1_000; i++) {
    const delay = retryAfterDelayMs(5_000);
    assert.ok(delay >= 5_000 && delay <= 10_000, `${delay}`);
  }
});

Deno.test("retryAfterDelayMs() bounds its jitter: at least 1 s of spread, at most 30 s more", () => {
  assert.equal(retryAfterDelayMs(0, () => 1), MIN_RETRY_AFTER_JITTER_MS);
  assert.equal(retryAfterDelayMs(60_000, () => 1), 60_000 + MAX_RETRY_AFTER_JITTER_MS);
  assert.equal(retryAfterDelayMs(-5, () => 0), 0);
});

Deno.test("a random source out of [0, 1) never makes a delay shorter or unbounded", () => {
  for (const bad of [-1, 2, NaN, Infinity]) {
    assert.equal(retryAfterDelayMs(2_000, () => bad) >= 2_000, true);
    assert.ok(retryAfterDelayMs(2_000, () => bad) <= 4_000);
    assert.ok(backoffDelayMs(3, BOUNDS, () => bad) <= 2_000);
  }
});

Deno.test("retryDelayMs() takes Retry-After when the parent sent one, else the back-off", () => {
  assert.equal(retryDelayMs(3, BOUNDS, null, () => 0), 1_000);
  assert.equal(retryDelayMs(3, BOUNDS, 7_000, () => 0), 7_000);
  assert.equal(retryDelayMs(3, BOUNDS, 7_000, () => 1), 14_000);
});
