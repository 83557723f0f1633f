import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { eventually } from "../tests/eventually.ts";
import { DeliveryLoop } from "./_delivery_loop.ts";

/** A loop whose fill starts one send per waiting item, at most `concurrency` at once. */
function testLoop(concurrency: number) {
  const waiting: string[] = [];
  const sent: string[] = [];
  const releases: Array<() => void> = [];
  let fills = 0;
  const loop: DeliveryLoop = new DeliveryLoop({
    minMs: 5,
    maxMs: 20,
    random: () => 0,
    log: silentLogger,
    waiting: () => waiting.length,
    fill: () => {
      fills += 1;
      while (loop.sending < concurrency && waiting.length > 0) {
        const item = waiting.shift()!;
        sent.push(item);
        loop.run(new Promise<void>((resolve) => releases.push(resolve)));
      }
    },
  });
  return { loop, waiting, sent, releases, fills: () => fills };
}

Deno.test("DeliveryLoop fills only once started, within the forwarder's bound, and again as sends end", async () => {
  const t = testLoop(2);
  t.waiting.push("a", "b", "c");
  t.loop.wake();
  assert.deepEqual(t.sent, [], "nothing before start");
  t.loop.start();
  assert.deepEqual(t.sent, ["a", "b"]);
  assert.equal(t.loop.sending, 2);
  t.releases.shift()!();
  await eventually(() => t.sent.length === 3 || undefined, "the third starts when a send ends");
  for (const release of t.releases.splice(0)) release();
  await t.loop.stop(1_000);
  assert.equal(t.loop.sending, 0);
});

Deno.test("DeliveryLoop starts nothing while backing off, and fills again when the delay is over", async () => {
  const t = testLoop(1);
  t.loop.start();
  t.loop.failed("parent answered 503");
  assert.equal(t.loop.backingOff, true);
  t.waiting.push("a");
  t.loop.wake();
  assert.deepEqual(t.sent, [], "a wake while backing off sends nothing");
  await eventually(() => t.sent.length === 1 || undefined, "sent after the retry delay");
  assert.equal(t.loop.backingOff, false);
  t.releases.shift()!();
  await t.loop.stop(1_000);
});

Deno.test("DeliveryLoop.stop() waits for the sends in flight, then neither fills nor backs off", async () => {
  const t = testLoop(1);
  t.waiting.push("a");
  t.loop.start();
  let stopped = false;
  const stopping = t.loop.stop(10_000).then(() => stopped = true);
  await Promise.resolve();
  assert.equal(stopped, false, "waits for the send in flight");
  t.releases.shift()!();
  await stopping;
  const fills = t.fills();
  t.waiting.push("b");
  t.loop.wake();
  t.loop.failed("late failure");
  assert.equal(t.fills(), fills);
  assert.equal(t.loop.backingOff, false);
  assert.deepEqual(t.sent, ["a"]);
});

Deno.test("DeliveryLoop.stop() gives up on a send that does not end within the grace", async () => {
  const t = testLoop(1);
  t.waiting.push("a");
  t.loop.start();
  await t.loop.stop(5);
  assert.equal(t.loop.sending, 1, "the send is abandoned, not awaited");
  t.releases.shift()!();
});
