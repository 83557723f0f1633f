import assert from "node:assert/strict";
import { INTERVAL_JITTER, MIN_RETRY_MS, nextCycleDelay } from "./next_cycle_delay.ts";

const HOUR = 3_600_000;
const unreachable = { outcome: "unreachable" as const, retryAfterMs: null };
const busy = (retryAfterMs: number) => ({ outcome: "unreachable" as const, retryAfterMs });

Deno.test("nextCycleDelay() waits the interval less at most 10 % after a cycle that did not fail", () => {
  for (const outcome of ["delivered", "queued", "failed"] as const) {
    const longest = nextCycleDelay({ outcome }, 4, HOUR, () => 0);
    const shortest = nextCycleDelay({ outcome }, 4, HOUR, () => 0.999_999);
    assert.equal(longest.delayMs, HOUR, outcome);
    assert.equal(shortest.delayMs, Math.round(HOUR * (1 - INTERVAL_JITTER * 0.999_999)), outcome);
    assert.equal(longest.failureStreak, 0, `${outcome} ends the failure streak`);
    assert.match(longest.reason, /the --interval of 3600 s/);
  }
  assert.match(nextCycleDelay({ outcome: "delivered" }, 0, HOUR).reason, /^delivered; /);
});

Deno.test("nextCycleDelay() doubles a jittered back-off over failed cycles, capped at the interval", () => {
  let streak = 0;
  const ceilings: number[] = [];
  for (let cycle = 0; cycle < 12; cycle++) {
    const next = nextCycleDelay(unreachable, streak, 60_000, () => 0.999_999);
    assert.equal(next.failureStreak, streak + 1);
    streak = next.failureStreak;
    ceilings.push(next.delayMs);
  }
  assert.deepEqual(ceilings.slice(0, 5), [5_000, 10_000, 20_000, 40_000, 60_000]);
  assert.ok(ceilings.every((delay) => delay <= 60_000), "never later than the interval");
  // The jitter draws between half the ceiling and all of it.
  assert.equal(nextCycleDelay(unreachable, 0, HOUR, () => 0).delayMs, MIN_RETRY_MS / 2);
  assert.equal(nextCycleDelay(unreachable, 2, HOUR, () => 0).delayMs, 10_000);
  assert.match(nextCycleDelay(unreachable, 2, HOUR).reason, /no parent answered \(3 failed cycles/);
});

Deno.test("nextCycleDelay() never comes back before a busy parent's Retry-After, and adds jitter above it", () => {
  for (const random of [0, 0.3, 0.7, 0.999_999]) {
    const next = nextCycleDelay(busy(10_000), 0, HOUR, () => random);
    assert.ok(next.delayMs >= 10_000, `random ${random}: ${next.delayMs}`);
    assert.ok(next.delayMs <= 20_000, `random ${random}: ${next.delayMs}`);
  }
  assert.equal(nextCycleDelay(busy(10_000), 0, HOUR, () => 0).delayMs, 10_000);
  assert.equal(nextCycleDelay(busy(10_000), 0, HOUR, () => 0.5).delayMs, 15_000);
  // A short Retry-After does not undo the back-off of a long streak.
  assert.equal(nextCycleDelay(busy(1_000), 5, HOUR, () => 0).delayMs, 80_000);
  const next = nextCycleDelay(busy(10_000), 0, HOUR, () => 0);
  assert.equal(next.failureStreak, 1);
  assert.match(next.reason, /^parent busy, Retry-After 10 s \(1 failed cycle in a row\)/);
});

Deno.test("nextCycleDelay() cuts the jitter above Retry-After at the interval, never the Retry-After itself", () => {
  assert.equal(nextCycleDelay(busy(20_000), 0, 30_000, () => 0.999_999).delayMs, 30_000);
  assert.equal(nextCycleDelay(busy(20_000), 0, 10_000, () => 0.999_999).delayMs, 20_000);
  assert.equal(nextCycleDelay(busy(20_000), 0, 10_000, () => 0).delayMs, 20_000);
});

Deno.test("nextCycleDelay() keeps a one-second interval's back-off within it", () => {
  assert.equal(nextCycleDelay(unreachable, 0, 1_000, () => 0.999_999).delayMs, 1_000);
  assert.equal(nextCycleDelay(unreachable, 9, 1_000, () => 0).delayMs, 500);
  assert.equal(nextCycleDelay({ outcome: "delivered" }, 0, 1_000, () => Number.NaN).delayMs, 1_000);
});
