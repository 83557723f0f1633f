import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import type { UploadUsage } from "../store/upload_records.ts";
import { IngestError } from "./ingest_error.ts";
import { UploadQuota } from "./upload_quota.ts";

/** Records whose figures the test sets, and whose read can be held open. */
class FakeRecords {
  computerBytes = 0;
  totalBytes = 0;
  /** Runs while a read is in progress (after the figures are taken). */
  duringRead: (() => Promise<void>) | null = null;
  reads = 0;

  async usage(_cid: number, _activeSince: number): Promise<UploadUsage> {
    this.reads++;
    const taken = { computerBytes: this.computerBytes, totalBytes: this.totalBytes, inProgress: 0 };
    const during = this.duringRead;
    this.duringRead = null;
    await during?.();
    return taken;
  }
}

function quotaOver(records: FakeRecords, perComputerBytes: number, totalBytes = 0) {
  return new UploadQuota({
    records,
    limits: { perComputerBytes, totalBytes },
    log: silentLogger,
    now: Date.now,
    staleAfterMs: 86_400_000,
  });
}

async function refusal(work: Promise<unknown>): Promise<IngestError> {
  const error = await work.then(() => null, (error) => error);
  assert.ok(error instanceof IngestError, "refused");
  return error;
}

Deno.test("UploadQuota charges chunks as they come, refuses the one past the quota, and takes back a chunk not written", async () => {
  const records = new FakeRecords();
  const quota = quotaOver(records, 100);
  await quota.reserve(1, "a", 0, 60);
  await quota.reserve(1, "b", 0, 40);
  const refused = await refusal(quota.reserve(1, "a", 1, 1));
  assert.equal(refused.status, 413);
  assert.equal(refused.code, "ERR_UPLOAD_QUOTA_EXCEEDED");
  assert.equal(await quota.room(2, 100), null, "another computer has its own quota");
  quota.release(1, "b", 40);
  await quota.reserve(1, "a", 1, 40);
  quota.forget(1, "a");
  assert.equal(await quota.room(1, 100), null, "a failed upload holds nothing");
});

Deno.test("UploadQuota counts the server's total across computers", async () => {
  const records = new FakeRecords();
  const quota = quotaOver(records, 0, 100);
  await quota.reserve(1, "a", 0, 70);
  const refused = await refusal(quota.reserve(2, "b", 0, 31));
  assert.match(refused.message, /total upload quota of 100 bytes.*--upload-quota-total/);
  assert.equal(await quota.room(2, 30), null);
});

Deno.test("UploadQuota never misses bytes a checkpoint moves to the records while it reads them", async () => {
  const records = new FakeRecords();
  const quota = quotaOver(records, 100);
  await quota.reserve(1, "a", 0, 80);
  // The read takes the records' figures (0), then a checkpoint writes the 80 bytes down and
  // stops counting them in memory before the read returns: neither figure would hold them.
  records.duringRead = () =>
    quota.settle(1, "a", 80, () => {
      records.computerBytes = 80;
      records.totalBytes = 80;
      return Promise.resolve();
    });
  await refusal(quota.reserve(1, "b", 0, 30));
  assert.equal(await quota.room(1, 20), null);
  assert.equal(await quota.room(1, 21), "computer-quota");
});

Deno.test("UploadQuota reads the records' figures once per computer while chunks stream, not per chunk, and counts what checkpoints wrote down since", async () => {
  const records = new FakeRecords();
  const quota = quotaOver(records, 1000);
  for (let index = 0; index < 10; index++) {
    await quota.reserve(1, "a", index, 50);
    if (index % 3 === 2) {
      // A checkpoint writes down what was received so far.
      await quota.settle(1, "a", 150, () => {
        records.computerBytes += 150;
        records.totalBytes += 150;
        return Promise.resolve();
      });
    }
  }
  assert.equal(records.reads, 1);
  await quota.reserve(1, "a", 10, 500);
  await refusal(quota.reserve(1, "a", 11, 1));
  assert.equal(records.reads, 1);
});
