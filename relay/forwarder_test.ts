import assert from "node:assert/strict";
import { joinPath } from "../keystore/secure_file.ts";
import { freePort } from "../tests/run_role.ts";
import { ParentStub } from "./_parent_stub.ts";
import { createMessageFactory } from "./_test_utils.ts";
import { waitUntil } from "../tests/eventually.ts";
import { DEFAULT_FORWARD_CONCURRENCY, Forwarder, type ForwarderOptions } from "./forwarder.ts";
import { MAX_REPORT_BATCH_BYTES } from "../protocol/limits.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { ParentList } from "../protocol/parent_list.ts";
import { Spool } from "./spool.ts";

const encoder = new TextEncoder();
const messages = await createMessageFactory();

/** A spool in a fresh data dir and a forwarder to `parentUrl` with test-sized delays. */
async function withForwarder(
  parentUrl: string,
  options: Partial<ForwarderOptions>,
  body: (spool: Spool, forwarder: Forwarder, dataDir: string) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-forwarder-" });
  const spool = await Spool.open(dataDir);
  const forwarder = new Forwarder({
    spool,
    parentUrl,
    minBackoffMs: 20,
    maxBackoffMs: 100,
    timeoutMs: 5_000,
    ...options,
  });
  try {
    await body(spool, forwarder, dataDir);
  } finally {
    await forwarder.stop(1_000);
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** What a test sets on its {@linkcode ParentStub} before the forwarder starts. */
type StubSettings = Partial<
  Pick<ParentStub, "mode" | "acceptsBatches" | "reportDelayMs" | "loseFirstAck">
>;

/**
 * A {@linkcode ParentStub} with `settings` as the parent of {@linkcode withForwarder}; the body
 * gets the stub too, and it is closed after.
 */
async function withStubParent(
  settings: StubSettings,
  options: Partial<ForwarderOptions>,
  body: (spool: Spool, forwarder: Forwarder, stub: ParentStub) => Promise<void>,
): Promise<void> {
  const stub = Object.assign(new ParentStub(), settings);
  try {
    await withForwarder(stub.url, options, (spool, forwarder) => body(spool, forwarder, stub));
  } finally {
    await stub.close();
  }
}

/** Spools `count` clear reports of computer `cid`; returns their bodies in order. */
async function spoolReports(spool: Spool, cid: number, count: number): Promise<string[]> {
  const sent: string[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const body = await messages.clear(cid, seq);
    sent.push(body);
    await spool.put(encoder.encode(body));
  }
  return sent;
}

Deno.test("Forwarder delivers the oldest first and removes what the parent took", async () => {
  await withStubParent({}, { concurrency: 1 }, async (spool, forwarder, stub) => {
    const sent = await spoolReports(spool, 7, 5);
    forwarder.start();
    await waitUntil(() => spool.count() === 0, "spool drained");
    assert.deepEqual(stub.received, sent, "exact bytes, oldest first");
    assert.equal(forwarder.stats().delivered, 5);
    assert.deepEqual(stub.batches, [], "a parent that announces no batches gets one by one");
  });
});

Deno.test("Forwarder sends a message spooled later as soon as it is woken", async () => {
  await withStubParent({}, {}, async (spool, forwarder, stub) => {
    forwarder.start();
    await spool.put(encoder.encode(await messages.clear(7, 1)));
    forwarder.wake();
    await waitUntil(() => stub.stored.size === 1 && spool.count() === 0, "delivered");
  });
});

Deno.test("Forwarder removes a resend the parent already has (409 ERR_DUPLICATE_REPORT)", async () => {
  await withStubParent({ loseFirstAck: true }, {}, async (spool, forwarder, stub) => {
    for (let seq = 1; seq <= 3; seq++) {
      await spool.put(encoder.encode(await messages.encrypted(8, seq)));
    }
    forwarder.start();
    await waitUntil(() => spool.count() === 0, "spool drained");
    assert.equal(stub.stored.size, 3);
    assert.equal(stub.received.length, 6, "each sent twice: the first ack was lost");
    assert.equal(forwarder.stats().duplicates, 3);
    assert.deepEqual(await spool.listRejected(), []);
  });
});

Deno.test("Forwarder moves what the parent refuses for good to rejected/ and never resends it", async () => {
  await withStubParent({ mode: "reject" }, {}, async (spool, forwarder, stub) => {
    const first = await messages.clear(9, 1);
    const id = await spool.put(encoder.encode(first));
    forwarder.start();
    await waitUntil(() => spool.count() === 0, "message left the spool");
    // A later message goes after it: had the first been kept for a retry, it would go first.
    const second = await messages.clear(9, 2);
    const later = await spool.put(encoder.encode(second));
    forwarder.wake();
    await waitUntil(() => forwarder.stats().rejected === 2, "the later one refused too");
    assert.deepEqual(stub.received, [first, second], "each sent once, the first not retried");
    assert.deepEqual(await spool.listRejected(), [id, later]);
    const reason = await Deno.readTextFile(joinPath(spool.rejectedDir, `${id}.reason`));
    assert.match(reason, /parent answered 400 ERR_REPORT_INVALID: Refused for a test/);
    assert.equal(forwarder.stats().rejected, 2);
  });
});

Deno.test("Forwarder keeps messages while the parent answers 503 and delivers when it recovers", async () => {
  await withStubParent({ mode: "down" }, {}, async (spool, forwarder, stub) => {
    await spoolReports(spool, 10, 4);
    forwarder.start();
    await waitUntil(() => stub.received.length >= 8, "several attempts while down");
    assert.equal(spool.count(), 4, "nothing dropped while the parent is down");
    assert.ok(forwarder.stats().failures >= 8);
    stub.mode = "up";
    await waitUntil(() => spool.count() === 0, "delivered after recovery");
    assert.equal(stub.stored.size, 4);
  });
});

Deno.test("Forwarder backs off exponentially, not in a busy loop, while the parent is down", async () => {
  await withStubParent({ mode: "down" }, {
    concurrency: 1,
    minBackoffMs: 50,
    maxBackoffMs: 400,
    random: () => 1,
  }, async (spool, forwarder, stub) => {
    await spool.put(encoder.encode(await messages.clear(11, 1)));
    forwarder.start();
    await waitUntil(() => stub.received.length >= 6, "six attempts");
    // With the jitter at its top, each wait is the whole ceiling: 50, 100, 200, 400 and 400 ms.
    // A timer never fires early, so no gap is shorter (1 ms for the timer's rounding).
    const gaps = stub.receivedAt.slice(1, 6).map((at, index) => at - stub.receivedAt[index]);
    [50, 100, 200, 400, 400].forEach((least, index) =>
      assert.ok(gaps[index] >= least - 1, `wait ${index + 1}: ${gaps[index]} ms, least ${least}`)
    );
    await waitUntil(() => forwarder.backingOff, "backing off before the seventh attempt");
  });
});

Deno.test("Forwarder keeps messages while nothing listens and delivers once the parent starts", async () => {
  const port = freePort();
  await withForwarder(`http://127.0.0.1:${port}`, {}, async (spool, forwarder) => {
    await spool.put(encoder.encode(await messages.clear(12, 1)));
    forwarder.start();
    await waitUntil(() => forwarder.stats().failures >= 2, "connection refused twice");
    assert.equal(spool.count(), 1);
    const stub = new ParentStub(port);
    try {
      await waitUntil(() => spool.count() === 0, "delivered once the parent listens");
      assert.equal(stub.stored.size, 1);
    } finally {
      await stub.close();
    }
  });
});

Deno.test("Forwarder with several parents delivers to the next while the first is down, and to the first again once it answers", async () => {
  const firstPort = freePort();
  const second = new ParentStub();
  const first = `http://127.0.0.1:${firstPort}`;
  const parents = new ParentList({ parents: [first, second.url], minRetryMs: 50, maxRetryMs: 100 });
  let revived: ParentStub | null = null;
  try {
    await withForwarder(first, { parents }, async (spool, forwarder) => {
      await spool.put(encoder.encode(await messages.clear(14, 1)));
      forwarder.start();
      await waitUntil(() => spool.count() === 0, "delivered through the second parent");
      assert.equal(second.stored.size, 1);
      assert.equal(forwarder.backingOff, false, "a failover is not a back-off");
      revived = new ParentStub(firstPort);
      // The first's back-off over, the next message goes to it.
      await waitUntil(() => parents.current(Date.now()) === first, "the first is due again");
      await spool.put(encoder.encode(await messages.clear(14, 2)));
      forwarder.wake();
      await waitUntil(() => spool.count() === 0, "delivered through the first parent");
      assert.equal(revived.stored.size, 1);
      assert.equal(second.stored.size, 1);
      assert.equal(parents.inUse, first);
    });
  } finally {
    await second.close();
    await (revived as ParentStub | null)?.close();
  }
});

Deno.test("Forwarder sends no more than its concurrency at once", async () => {
  await withStubParent(
    { reportDelayMs: 100 },
    { concurrency: 3 },
    async (spool, forwarder, stub) => {
      await spoolReports(spool, 13, 10);
      forwarder.start();
      await waitUntil(() => spool.count() === 0, "spool drained");
      assert.equal(stub.maxConcurrentReports, 3);
      assert.equal(stub.stored.size, 10);
    },
  );
});

Deno.test("Forwarder without a concurrency keeps DEFAULT_FORWARD_CONCURRENCY requests in flight", async () => {
  await withStubParent({ reportDelayMs: 100 }, {}, async (spool, forwarder, stub) => {
    await spoolReports(spool, 14, 2 * DEFAULT_FORWARD_CONCURRENCY);
    forwarder.start();
    await waitUntil(() => spool.count() === 0, "spool drained");
    assert.equal(stub.maxConcurrentReports, DEFAULT_FORWARD_CONCURRENCY);
  });
});

Deno.test("Forwarder.stop() waits for the sends in flight", async () => {
  await withStubParent({ reportDelayMs: 300 }, {}, async (spool, forwarder, stub) => {
    await spool.put(encoder.encode(await messages.clear(14, 1)));
    forwarder.start();
    await waitUntil(() => forwarder.inFlight === 1, "send in flight");
    await forwarder.stop();
    assert.equal(forwarder.inFlight, 0);
    assert.equal(spool.count(), 0, "the send finished and its message was removed");
    assert.equal(stub.stored.size, 1);
  });
});

Deno.test("Forwarder.stop() returns after the grace, keeping a slow send's message", async () => {
  await withStubParent({ reportDelayMs: 2_000 }, {}, async (spool, forwarder, stub) => {
    await spool.put(encoder.encode(await messages.clear(15, 1)));
    forwarder.start();
    await waitUntil(() => forwarder.inFlight === 1, "send in flight");
    await forwarder.stop(100);
    assert.equal(stub.stored.size, 0, "stop returned before the slow parent answered");
    assert.equal(spool.count(), 1, "the message stays until the parent's answer removes it");
  });
});

Deno.test("Forwarder sends batches to a parent that takes them, each message exact and answered on its own", async () => {
  await withStubParent(
    { acceptsBatches: true },
    { concurrency: 1 },
    async (spool, forwarder, stub) => {
      const sent = await spoolReports(spool, 40, 30);
      stub.stored.set("40:7", sent[6]); // the parent has one already (a lost acknowledgement)
      forwarder.start();
      await waitUntil(() => spool.count() === 0, "spool drained");
      assert.deepEqual(stub.batches, [30], "one request for all thirty");
      assert.deepEqual(stub.received, sent, "exact bytes, oldest first");
      assert.deepEqual(forwarder.stats(), {
        delivered: 29,
        duplicates: 1,
        rejected: 0,
        failures: 0,
      });
    },
  );
});

Deno.test("Forwarder keeps a batch within its maximum count", async () => {
  await withStubParent(
    { acceptsBatches: true },
    { concurrency: 1, batchMax: 8 },
    async (spool, forwarder, stub) => {
      await spoolReports(spool, 41, 20);
      forwarder.start();
      await waitUntil(() => spool.count() === 0, "spool drained");
      assert.deepEqual(stub.batches, [8, 8, 4]);
      assert.equal(stub.stored.size, 20);
    },
  );
});

Deno.test("Forwarder keeps a batch within MAX_REPORT_BATCH_BYTES, the rest going in the next", async () => {
  await withStubParent(
    { acceptsBatches: true },
    { concurrency: 1 },
    async (spool, forwarder, stub) => {
      // Ten reports of about 900 KB (JSON allows the trailing blanks): nine fit in 8 MiB, not ten.
      for (let seq = 1; seq <= 10; seq++) {
        const body = `${await messages.clear(47, seq)}${" ".repeat(900_000)}`;
        await spool.put(encoder.encode(body));
      }
      forwarder.start();
      await waitUntil(() => spool.count() === 0, "spool drained");
      assert.ok(9 * 900_000 < MAX_REPORT_BATCH_BYTES && 10 * 900_000 > MAX_REPORT_BATCH_BYTES);
      assert.deepEqual(stub.batches, [9, 1]);
      assert.equal(stub.stored.size, 10);
    },
  );
});

Deno.test("Forwarder beside a batch in flight starts another only when a full one waits, and sends the rest when they end", async () => {
  await withStubParent({ acceptsBatches: true }, {}, async (spool, forwarder, stub) => {
    let release = () => {};
    stub.batchGate = new Promise((resolve) => release = resolve);
    try {
      await spoolReports(spool, 46, 1);
      forwarder.start();
      await waitUntil(() => stub.batches.length === 1, "the first batch in flight");
      // Reports arriving one at a time beside it, each waking the forwarder as the relay does.
      for (let seq = 2; seq <= 40; seq++) {
        await spool.put(encoder.encode(await messages.clear(46, seq)));
        forwarder.wake();
      }
      await waitUntil(() => stub.batches.length >= 2, "a second batch beside the first");
      assert.ok(stub.batches[1] >= 32, `the second batch waited to be full: ${stub.batches}`);
    } finally {
      stub.batchGate = null;
      release();
    }
    await waitUntil(() => spool.count() === 0, "spool drained");
    assert.equal(stub.batches.length, 3, `the rest in one batch once both ended: ${stub.batches}`);
    assert.equal(stub.stored.size, 40);
  });
});

Deno.test("Forwarder moves each message of a batch the parent refuses for good to rejected/, with its reason", async () => {
  await withStubParent(
    { acceptsBatches: true, mode: "reject" },
    { concurrency: 1 },
    async (spool, forwarder, stub) => {
      await spoolReports(spool, 42, 3);
      const ids = spool.list();
      forwarder.start();
      await waitUntil(() => forwarder.stats().rejected === 3, "all three refused");
      assert.deepEqual(stub.batches, [3]);
      assert.deepEqual(await spool.listRejected(), ids);
      const reason = await Deno.readTextFile(joinPath(spool.rejectedDir, `${ids[2]}.reason`));
      assert.match(reason, /parent answered 400 ERR_REPORT_INVALID: Refused for a test/);
    },
  );
});

Deno.test("Forwarder keeps a batch the parent cannot take now, and delivers it when it recovers", async () => {
  await withStubParent(
    { acceptsBatches: true },
    { concurrency: 1 },
    async (spool, forwarder, stub) => {
      // The capabilities are asked while the parent is up; then it fails.
      forwarder.start();
      await spoolReports(spool, 43, 1);
      forwarder.wake();
      await waitUntil(() => spool.count() === 0, "first delivered");
      stub.mode = "down";
      const sent = await spoolReports(spool, 44, 5);
      forwarder.wake();
      await waitUntil(() => forwarder.stats().failures >= 2, "failed twice");
      assert.equal(spool.count(), 5, "nothing dropped while the parent fails");
      assert.deepEqual(await spool.listRejected(), []);
      stub.mode = "up";
      await waitUntil(() => spool.count() === 0, "delivered after recovery");
      assert.deepEqual(sent.map((body) => stub.stored.get(`44:${sent.indexOf(body) + 1}`)), sent);
    },
  );
});

Deno.test("Forwarder sends one by one when a parent that announced batches refuses one whole, rejecting nothing", async () => {
  await withStubParent({}, {
    parentCapabilities: { acceptsReportBatches: () => Promise.resolve(true) },
  }, async (spool, forwarder, stub) => { // it has no batch route: 404 ERR_NOT_FOUND
    const sent = await spoolReports(spool, 45, 6);
    forwarder.start();
    await waitUntil(() => spool.count() === 0, "spool drained");
    assert.deepEqual(await spool.listRejected(), []);
    assert.deepEqual([...stub.received].sort(), [...sent].sort(), "each delivered alone, once");
    assert.equal(forwarder.stats().delivered, 6);
  });
});

Deno.test("Forwarder sends no report while its question of what the parent takes finds no parent, and batches once it does", async () => {
  let reachable = false;
  let asked = 0;
  const parentCapabilities = {
    acceptsReportBatches: () => {
      asked++;
      return reachable
        ? Promise.resolve(true)
        : Promise.reject(new ParentUnreachableError("http://127.0.0.1:1"));
    },
  };
  await withStubParent({ acceptsBatches: true }, {
    parentCapabilities,
  }, async (spool, forwarder, stub) => {
    await spoolReports(spool, 46, 5);
    forwarder.start();
    await waitUntil(() => forwarder.stats().failures >= 3, "three failed questions");
    assert.equal(stub.received.length, 0, "no report sent to a parent just found away");
    assert.ok(asked >= 3);
    assert.equal(spool.count(), 5);
    reachable = true;
    await waitUntil(() => spool.count() === 0, "delivered once the parent answers");
    assert.ok(stub.batches.length >= 1, `batches: ${stub.batches.length}`);
    assert.equal(stub.received.length, 5, "each report sent once, in batches");
  });
});
