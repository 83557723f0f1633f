import assert from "node:assert/strict";
import { eventually } from "../tests/eventually.ts";
import { IngestError } from "./ingest_error.ts";
import { RsaWorkQueue } from "./rsa_work_queue.ts";

Deno.test("RsaWorkQueue: runs at most `concurrency` at once, lets `maxWaiting` wait, refuses the rest with 503", async () => {
  const queue = new RsaWorkQueue({ concurrency: 2, maxWaiting: 1, retryAfterSeconds: 3 });
  let running = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const work = () =>
    queue.run(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      return "done";
    });
  const taken = [work(), work(), work()];
  const refused = await work().then(() => null, (error) => error);
  assert.ok(refused instanceof IngestError);
  assert.equal(refused.status, 503);
  assert.equal(refused.retryAfterSeconds, 3);
  assert.equal(queue.refused, 1);
  // Two run, the third waits; releasing one lets the third in.
  assert.equal(releases.length, 2);
  releases.shift()!();
  await eventually(() => releases.length === 2 ? true : undefined, "the third work to start");
  for (const release of releases) release();
  assert.deepEqual(await Promise.all(taken), ["done", "done", "done"]);
  assert.equal(most, 2);
  assert.equal(await queue.run(() => Promise.resolve(1)), 1, "room again");
});
