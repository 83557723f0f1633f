import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import type { NewReport } from "../store/store.ts";
import { withStore } from "./_test_server.ts";
import { BatchWriter } from "./batch_writer.ts";

function report(computerId: number, seq: number, body = `{"seq":${seq}}`): NewReport {
  return {
    computerId,
    seq,
    receivedAt: Date.now(),
    encrypted: true,
    kid: "a".repeat(40),
    body,
    digest: body.length.toString(16).padStart(64, "0") + String(seq),
    encryptionLevel: "required",
  };
}

Deno.test("BatchWriter in a worker thread stores every report once, in order, and tells resends and conflicts apart", async () => {
  await withStore(async (store, dir) => {
    const writer = new BatchWriter(store, { dataDir: dir });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 300 }, (_, i) => writer.write(report(1 + (i % 7), i))),
      );
      assert.deepEqual(new Set(outcomes), new Set(["stored"]));
      assert.equal(writer.stored, 300);
      assert.equal(await writer.write(report(1, 0)), "duplicate");
      assert.equal(await writer.write(report(1, 0, '{"other":true}')), "conflict");
      assert.equal(writer.stored, 300);
      // Committed: the event loop's own connection sees every report.
      assert.equal(await store.countReports(), 300);
      assert.equal((await store.listReports(1)).length, 43);
    } finally {
      await writer.close();
    }
  });
});

Deno.test("BatchWriter.close() waits for the reports still pending", async () => {
  await withStore(async (store, dir) => {
    const writer = new BatchWriter(store, { dataDir: dir, maxBatch: 16 });
    const writes = Array.from({ length: 100 }, (_, i) => writer.write(report(3, i)));
    await writer.close();
    assert.equal((await Promise.all(writes)).filter((o) => o === "stored").length, 100);
    assert.equal(await store.countReports(), 100);
  });
});

Deno.test("BatchWriter commits on the event loop when its worker cannot open the store", async () => {
  await withStore(async (store, dir) => {
    const writer = new BatchWriter(store, { dataDir: `${dir}/missing/deeper` });
    try {
      assert.equal(await writer.write(report(4, 1)), "stored");
      assert.equal(await store.countReports(), 1);
    } finally {
      await writer.close();
    }
  });
});

Deno.test("BatchWriter without a data dir commits through the given store", async () => {
  await withStore(async (store) => {
    const writer = new BatchWriter(store);
    assert.deepEqual(
      await Promise.all([writer.write(report(5, 1)), writer.write(report(5, 2))]),
      ["stored", "stored"],
    );
    await writer.close();
    assert.equal(await store.countReports(), 2);
  });
});

Deno.test("BatchWriter commits the reports written together in one transaction, and those that came during it in the next", async () => {
  await withStore(async (store, dir) => {
    const writer = new BatchWriter(store, { dataDir: dir });
    let commits = 0;
    writer.onCommit = () => commits++;
    try {
      const first = Array.from({ length: 20 }, (_, i) => writer.write(report(6, i)));
      // The writer flushes after this turn's I/O, before an immediate queued after its own: the
      // first twenty are then in flight, and the next five wait for the next commit.
      await new Promise((resolve) => setImmediate(resolve));
      const second = Array.from({ length: 5 }, (_, i) => writer.write(report(6, 20 + i)));
      const outcomes = await Promise.all([...first, ...second]);
      assert.equal(outcomes.filter((o) => o === "stored").length, 25);
      assert.equal(commits, 2);
    } finally {
      await writer.close();
    }
  });
});
