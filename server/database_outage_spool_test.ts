import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import type { NewReport, Store, StoreOutcome } from "../store/store.ts";
import { eventually } from "../tests/eventually.ts";
import { BatchWriter } from "./batch_writer.ts";
import { DatabaseOutageSpool, OUTAGE_SPOOL_DIR } from "./database_outage_spool.ts";
import { IngestError } from "./ingest_error.ts";

/** A store whose database can be cut: then every call fails as a refused connection does. */
function cuttableStore() {
  const rows = new Map<string, NewReport>();
  const state = { reachable: true };
  const refuse = () => {
    if (!state.reachable) {
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
        code: "ECONNREFUSED",
      });
    }
  };
  const store = {
    storeReports(reports: NewReport[]): Promise<StoreOutcome[]> {
      refuse();
      return Promise.resolve(reports.map((report) => {
        const key = `${report.computerId}/${report.seq}`;
        if (rows.has(key)) {
          return rows.get(key)!.digest === report.digest ? "duplicate" : "conflict";
        }
        rows.set(key, report);
        return "stored";
      }));
    },
    getDocument(): Promise<string | null> {
      refuse();
      return Promise.resolve(null);
    },
  } as unknown as Store;
  return { store, rows, state };
}

function report(seq: number): NewReport {
  return {
    computerId: 7,
    seq,
    receivedAt: 1,
    encrypted: true,
    kid: "k1",
    body: `{"seq":${seq}}`,
    digest: `d${seq}`,
    encryptionLevel: "required",
  };
}

Deno.test("a batch the database cannot take is spooled durably, acknowledged, and drained once when it returns", async () => {
  const dataDir = await Deno.makeTempDir();
  const { store, rows, state } = cuttableStore();
  const spool = await DatabaseOutageSpool.open({
    dataDir,
    store,
    log: silentLogger,
    minRetryMs: 10,
  });
  const writer = new BatchWriter(store, { outageSpool: spool });
  try {
    assert.equal(await writer.write(report(1)), "stored");
    state.reachable = false;
    assert.equal(await writer.write(report(2)), "spooled");
    assert.equal(spool.unavailable, true);
    // Known to be away: the next batches go to the spool.
    assert.deepEqual(await Promise.all([writer.write(report(3)), writer.write(report(2))]), [
      "spooled",
      "spooled",
    ]);
    const files = [...Deno.readDirSync(`${dataDir}/${OUTAGE_SPOOL_DIR}`)];
    assert.equal(files.length, 2);
    assert.equal(spool.state.spooledReports, 3);
    assert.equal(spool.state.database, "unavailable");

    state.reachable = true;
    await eventually(
      () => !spool.unavailable && spool.state.spooledReports === 0 ? true : undefined,
      "the spool drained",
    );
    assert.deepEqual([...rows.keys()].sort(), ["7/1", "7/2", "7/3"]);
    assert.equal(spool.state.drainedReports, 2, "the resent report 2 is a duplicate");
    assert.equal([...Deno.readDirSync(`${dataDir}/${OUTAGE_SPOOL_DIR}`)].length, 0);
    assert.equal(await writer.write(report(4)), "stored");
  } finally {
    await writer.close();
    await spool.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("what a server spooled before a crash is drained at its next start, a batch already stored counting as duplicates", async () => {
  const dataDir = await Deno.makeTempDir();
  const { store, rows, state } = cuttableStore();
  try {
    state.reachable = false;
    const first = await DatabaseOutageSpool.open({ dataDir, store, log: silentLogger });
    first.markUnavailable(new Error("down"));
    await first.put([report(1), report(2)]);
    await first.close();
    state.reachable = true;
    await store.storeReports([report(1)]); // stored before the "crash", file not yet removed
    const second = await DatabaseOutageSpool.open({ dataDir, store, log: silentLogger });
    await eventually(
      () => [...Deno.readDirSync(`${dataDir}/${OUTAGE_SPOOL_DIR}`)].length === 0 ? true : undefined,
      "the spool drained",
    );
    await second.close();
    assert.deepEqual([...rows.keys()].sort(), ["7/1", "7/2"]);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a full outage spool refuses with 503 ERR_DATABASE_UNAVAILABLE and Retry-After", async () => {
  const dataDir = await Deno.makeTempDir();
  const { store, state } = cuttableStore();
  state.reachable = false;
  const spool = await DatabaseOutageSpool.open({
    dataDir,
    store,
    log: silentLogger,
    maxBytes: 300,
  });
  try {
    spool.markUnavailable(new Error("down"));
    await spool.put([report(1)]);
    const refusal = await spool.put([report(2), report(3)]).catch((error) => error);
    assert.ok(refusal instanceof IngestError);
    assert.equal(refusal.status, 503);
    assert.equal(refusal.code, "ERR_DATABASE_UNAVAILABLE");
    assert.equal(refusal.headers["retry-after"], "10");
  } finally {
    await spool.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
