import assert from "node:assert/strict";
import { FIRST_RETRY_MS, nextCycleDelay } from "./next_cycle_delay.ts";

const HOUR = 3_600_000;

Deno.test("after a cycle a parent answered, the interval less at most a tenth of it", () => {
  const end = { intervalMs: HOUR, parentsFailed: false, failureStreak: 0, retryAfterMs: null };
  assert.equal(nextCycleDelay(end, () => 0).ms, HOUR);
  assert.equal(nextCycleDelay(end, () => 0.999_999).ms, Math.round(HOUR * 0.9 + 0.36));
  assert.equal(nextCycleDelay(end, () => 0).why, "the interval");
});

Deno.test("after cycles no parent took, a doubling back-off from 5 s, capped at the interval", () => {
  const at = (failureStreak: number, intervalMs = HOUR) =>
    nextCycleDelay({ intervalMs, parentsFailed: true, failureStreak, retryAfterMs: null }, () => 1)
      .ms;
  assert.deepEqual([1, 2, 3, 4].map((streak) => at(streak)), [
    FIRST_RETRY_MS,
    2 * FIRST_RETRY_MS,
    4 * FIRST_RETRY_MS,
    8 * FIRST_RETRY_MS,
  ]);
  assert.equal(at(30), HOUR);
  assert.equal(at(30, 60_000), 60_000);
  assert.equal(at(1, 2_000), 2_000, "an interval shorter than the first retry bounds it");
  // Jitter below the ceiling: half of it at least.
  const low = nextCycleDelay(
    { intervalMs: HOUR, parentsFailed: true, failureStreak: 3, retryAfterMs: null },
    () => 0,
  );
  assert.equal(low.ms, 2 * FIRST_RETRY_MS);
  assert.match(low.why, /no parent took the reports \(failure 3 in a row\)/);
});

Deno.test("a parent's Retry-After is a floor, with jitter above it, even beyond the interval", () => {
  const end = (retryAfterMs: number, intervalMs = HOUR) => ({
    intervalMs,
    parentsFailed: true,
    failureStreak: 1,
    retryAfterMs,
  });
  for (const draw of [0, 0.3, 0.999]) {
    const delay = nextCycleDelay(end(10_000), () => draw);
    assert.ok(delay.ms >= 10_000, `${delay.ms}`);
    assert.ok(delay.ms <= 20_000, `${delay.ms}`);
  }
  assert.match(nextCycleDelay(end(10_000), () => 0).why, /parent busy, Retry-After 10 s/);
  assert.ok(nextCycleDelay(end(120_000, 60_000), () => 0).ms >= 120_000);
  // A Retry-After shorter than the back-off does not shorten it.
  const streak = { ...end(1_000), failureStreak: 4 };
  assert.equal(nextCycleDelay(streak, () => 1).ms, 8 * FIRST_RETRY_MS);
});
