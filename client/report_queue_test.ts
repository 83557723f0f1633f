import assert from "node:assert/strict";
import { ReportQueue } from "./report_queue.ts";

Deno.test("ReportQueue lists reports oldest first, survives reopening, and keeps refused reports aside", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const queue = new ReportQueue(dir);
    for (const seq of [3, 1, 2]) {
      await queue.add({ seq, createdAt: "2026-01-01T00:00:00Z", properties: {}, custom: {} });
    }
    const reopened = new ReportQueue(dir);
    assert.deepEqual((await reopened.list()).map((r) => r.seq), [1, 2, 3]);
    assert.equal(await reopened.maxSeq(), 3);
    await reopened.remove(1);
    await reopened.reject(2, "400 ERR_REPORT_INVALID bad");
    assert.deepEqual((await reopened.list()).map((r) => r.seq), [3]);
    assert.match(
      await Deno.readTextFile(`${dir}/queue/rejected/000000000002.reason`),
      /ERR_REPORT_INVALID/,
    );
    await assert.rejects(() => queue.add({ seq: 3, createdAt: "x", properties: {}, custom: {} }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
