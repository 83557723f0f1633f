/**
 * The behaviour every `Store` and `UploadRecords` backend must show, as one suite run against
 * each (`sqlite_store_test.ts`, `postgres_store_test.ts`): a method added to the interface gets
 * its tests here, once, and both implementations are held to them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DecryptingRelayRecord } from "./relay_records.ts";
import type { ServerRecord } from "./server_records.ts";
import type { Store, StoreChange } from "./store.ts";
import { type ConformanceTest, report, type StoreFixture } from "./_conformance_fixtures.ts";
import { computerConformanceTests } from "./computer_conformance.ts";
import { consoleConformanceTests } from "./console_conformance.ts";
import { documentConformanceTests } from "./document_conformance.ts";
import { reportConformanceTests } from "./report_conformance.ts";
import { uploadRecordsConformanceTests } from "./upload_records_conformance.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

/** How the suite gets a fresh database. */
export interface ConformanceOptions {
  open(): Promise<StoreFixture>;
  /** A reason to skip every test (printed as the test name's suffix), or null to run them. */
  ignoreReason?: string | null;
}

/** Registers the suite's tests under `backend` (e.g. "SqliteStore"). */
export function storeConformanceTests(backend: string, options: ConformanceOptions): void {
  const ignore = options.ignoreReason != null;
  const test: ConformanceTest = (name, body) =>
    Deno.test({
      name: `${backend}: ${name}${ignore ? ` (skipped: ${options.ignoreReason})` : ""}`,
      ignore,
      async fn() {
        const fixture = await options.open();
        try {
          await body(fixture);
        } finally {
          await fixture.cleanup();
        }
      },
    });

  computerConformanceTests(test);
  reportConformanceTests(test);
  documentConformanceTests(test);
  uploadRecordsConformanceTests(test);
  consoleConformanceTests(test);

  test("records each server once, the latest record winning", async (fixture) => {
    const serverA = {
      name: "a:52311",
      url: "http://a:52311",
      startedAt: 2,
      lastSeenAt: 3,
      stoppedAt: null,
      kids: [KID_A, KID_B],
    };
    const serverBLatest = {
      name: "b:52311",
      url: "http://b.example:52311",
      startedAt: 1,
      lastSeenAt: 4,
      stoppedAt: 5,
      kids: [KID_A],
    };
    const serverBEarlier = {
      ...serverBLatest,
      url: "http://b:52311",
      lastSeenAt: 1,
      stoppedAt: null,
      kids: [],
    };
    const writes = [serverBEarlier, serverA, serverBLatest];
    assert.deepEqual(await listAfterTwoSessionsWrite(fixture, SERVERS, writes), [
      serverA,
      serverBLatest,
    ]);
  });

  test("records each decrypting relay once by computer id, the latest report winning", async (fixture) => {
    const relayALatest = {
      computerId: 9,
      name: "relay-a 127.0.0.1:52311",
      url: "http://relay-a:52311",
      lastSeenAt: 2,
      kids: [KID_A, KID_B],
    };
    const relayAEarlier = {
      ...relayALatest,
      url: "http://127.0.0.1:52311",
      lastSeenAt: 1,
      kids: [KID_A],
    };
    const relayB = {
      computerId: 4,
      name: "relay-b",
      url: "http://relay-b:52311",
      lastSeenAt: 3,
      kids: [],
    };
    const writes = [relayAEarlier, relayALatest, relayB];
    assert.deepEqual(await listAfterTwoSessionsWrite(fixture, DECRYPTING_RELAYS, writes), [
      relayB,
      relayALatest,
    ]);
  });

  test("tells a watcher of another session's revocations and key changes, or says it cannot", async ({ store, openAnother }) => {
    const computer = await store.registerComputer({
      publicKey: "watched",
      hostIdentity: null,
      hostname: null,
      registeredAt: 1,
    });
    const seen: StoreChange[] = [];
    let notify = () => {};
    const watching = await store.watchChanges((change) => {
      seen.push(change);
      notify();
    });
    const other = await openAnother();
    // Resolved by the notification itself; the deadline only turns a lost one into a failure.
    const waitFor = (wanted: (change: StoreChange) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error("no notification came")), 30_000);
        notify = () => {
          if (!seen.some(wanted)) return;
          clearTimeout(deadline);
          resolve();
        };
        notify();
      });
    try {
      // Reports update the computer's row: they notify nobody.
      await other.storeReports([report(computer.id, 1)]);
      await other.revokeComputer(computer.id, 5);
      await other.addEncryptionKey({
        kid: KID_A,
        spki: "spki",
        bits: 3072,
        role: "pending",
        createdAt: 1,
        deployedAt: null,
        retiredAt: null,
      });
      if (!watching) {
        // SQLite: no notifications; the servers poll.
        assert.deepEqual(seen, []);
        return;
      }
      await waitFor((change) => change.kind === "computer" && change.computerId === computer.id);
      await waitFor((change) => change.kind === "keys");
      assert.equal(seen.filter((change) => change.kind === "computer").length, 1);
    } finally {
      other.close();
    }
  });
}

/** Records that every session of a database writes and lists: servers, decrypting relays. */
interface SharedRecords<T> {
  write(session: Store, record: T): Promise<void>;
  list(session: Store): Promise<T[]>;
}

const SERVERS: SharedRecords<ServerRecord> = {
  write: (session, server) => session.recordServer(server),
  list: (session) => session.listServers(),
};

const DECRYPTING_RELAYS: SharedRecords<DecryptingRelayRecord> = {
  write: (session, relay) => session.recordDecryptingRelay(relay),
  list: (session) => session.listDecryptingRelays(),
};

/**
 * Writes `records` in turn, alternating between the fixture's store and a second session on the
 * same database (first, third, … through the store), and returns what the second session lists.
 */
async function listAfterTwoSessionsWrite<T>(
  { store, openAnother }: StoreFixture,
  kind: SharedRecords<T>,
  records: T[],
): Promise<T[]> {
  const other = await openAnother();
  try {
    for (const [index, record] of records.entries()) {
      await kind.write(index % 2 === 0 ? store : other, record);
    }
    return await kind.list(other);
  } finally {
    other.close();
  }
}
