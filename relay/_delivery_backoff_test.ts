import assert from "node:assert/strict";
import type { Logger } from "../cli/log.ts";
import { DeliveryBackoff, type DeliveryBackoffOptions } from "./_delivery_backoff.ts";

type Line = [level: string, message: string, fields?: Record<string, unknown>];

/** A logger that keeps its lines. */
function recordingLogger(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const keep = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(fields === undefined ? [level, message] : [level, message, fields]);
  };
  return {
    lines,
    log: { debug: keep("debug"), info: keep("info"), warn: keep("warn"), error: keep("error") },
  };
}

/** A back-off whose retries resolve the promises `nextRetry()` hands out. */
function testBackoff(options: Partial<DeliveryBackoffOptions> = {}) {
  const { log, lines } = recordingLogger();
  let retried: () => void = () => {};
  const backoff = new DeliveryBackoff({
    minMs: 2,
    maxMs: 8,
    random: () => 0,
    log,
    waiting: () => 3,
    onRetry: () => retried(),
    ...options,
  });
  const nextRetry = () => new Promise<void>((resolve) => retried = resolve);
  return { backoff, lines, nextRetry };
}

Deno.test("DeliveryBackoff.failed() doubles the delay up to the maximum and logs the streak's start", async () => {
  const { backoff, lines, nextRetry } = testBackoff();
  for (let step = 0; step < 4; step++) {
    const retry = nextRetry();
    backoff.failed("parent answered 503");
    assert.equal(backoff.backingOff, true);
    await retry;
    assert.equal(backoff.backingOff, false);
  }
  assert.deepEqual(lines, [
    ["warn", "cannot deliver to parent; keeping messages", {
      reason: "parent answered 503",
      waiting: 3,
      retryInMs: 1,
    }],
    ["debug", "still cannot deliver to parent", {
      reason: "parent answered 503",
      waiting: 3,
      retryInMs: 2,
    }],
    ["debug", "still cannot deliver to parent", {
      reason: "parent answered 503",
      waiting: 3,
      retryInMs: 4,
    }],
    ["debug", "still cannot deliver to parent", {
      reason: "parent answered 503",
      waiting: 3,
      retryInMs: 4,
    }],
  ]);
});

Deno.test("DeliveryBackoff.failed() adds jitter up to the full ceiling", () => {
  const { backoff, lines } = testBackoff({ minMs: 100, maxMs: 1_000, random: () => 0.5 });
  backoff.failed("no answer");
  backoff.stop();
  assert.equal(lines[0][2]?.retryInMs, 75);
});

Deno.test("DeliveryBackoff.failed() backs off once while the retry timer is set", () => {
  const { backoff, lines } = testBackoff();
  backoff.failed("first");
  backoff.failed("second");
  backoff.stop();
  assert.equal(lines.length, 1);
  assert.equal(backoff.backingOff, false);
});

Deno.test("DeliveryBackoff.failed() takes the delay the parent asked for", () => {
  const { backoff, lines } = testBackoff();
  backoff.failed("parent answered 429", 1_234);
  backoff.stop();
  assert.equal(lines[0][2]?.retryInMs, 1_234);
});

Deno.test("DeliveryBackoff.failed() adds jitter above the delay the parent asked for", () => {
  const { backoff, lines } = testBackoff({ random: () => 0.5 });
  backoff.failed("parent answered 503", 2_000);
  backoff.stop();
  assert.equal(lines[0][2]?.retryInMs, 3_000);
});

Deno.test("DeliveryBackoff.answered() logs the recovery once and restarts the streak", async () => {
  const { backoff, lines, nextRetry } = testBackoff();
  backoff.answered();
  assert.equal(lines.length, 0);
  const retry = nextRetry();
  backoff.failed("no answer");
  await retry;
  backoff.answered();
  backoff.answered();
  backoff.failed("no answer");
  backoff.stop();
  assert.deepEqual(lines.map(([level, message]) => [level, message]), [
    ["warn", "cannot deliver to parent; keeping messages"],
    ["info", "parent answers again; delivering the spool"],
    ["warn", "cannot deliver to parent; keeping messages"],
  ]);
  assert.deepEqual(lines[1][2], { waiting: 3 });
  assert.equal(lines[2][2]?.retryInMs, 1);
});

Deno.test("DeliveryBackoff uses the lines it is given", async () => {
  const { backoff, lines, nextRetry } = testBackoff({
    lines: {
      failing: "cannot send; keeping it",
      stillFailing: null,
      recovered: "sending again",
      waitingField: "items",
      recoveredCountsWaiting: false,
    },
  });
  let retry = nextRetry();
  backoff.failed("no answer");
  await retry;
  retry = nextRetry();
  backoff.failed("no answer");
  await retry;
  backoff.answered();
  assert.deepEqual(lines, [
    ["warn", "cannot send; keeping it", {
      reason: "no answer",
      items: 3,
      retryInMs: 1,
    }],
    ["info", "sending again"],
  ]);
});

Deno.test("DeliveryBackoff.stop() clears the retry timer", async () => {
  let retries = 0;
  const { backoff } = testBackoff({ onRetry: () => retries++ });
  backoff.failed("no answer");
  backoff.stop();
  assert.equal(backoff.backingOff, false);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(retries, 0);
});
