/**
 * The web console's store queries, held to one behaviour on every backend: registered from
 * `storeConformanceTests` (`store_conformance.ts`), so SQLite and PostgreSQL both run them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ComputerQuery, FIRST_COMPUTER_PAGE, type Store } from "./store.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

const HOUR = 3_600_000;

/** Four computers (one never reported, one revoked) with a report each. */
async function seed(store: Store): Promise<void> {
  const rows = [
    { host: "alpha", level: "required", kid: KID_A, at: 10 * HOUR, props: "Debian 12" },
    { host: "beta", level: "optional", kid: null, at: 11 * HOUR, props: "Windows 11" },
    { host: "gamma", level: "required", kid: KID_B, at: 11 * HOUR + 5, props: "macOS 15" },
    { host: "delta", level: null, kid: null, at: null, props: "" },
  ];
  for (const [index, row] of rows.entries()) {
    const computer = await store.registerComputer({
      publicKey: `key-${index}`,
      hostIdentity: null,
      hostname: row.host,
      registeredAt: index,
    });
    if (row.at === null) continue;
    await store.storeReports([{
      computerId: computer.id,
      seq: 1,
      receivedAt: row.at,
      encrypted: row.kid !== null,
      kid: row.kid,
      body: JSON.stringify({ properties: { os: row.props } }),
      digest: `d${index}`,
      encryptionLevel: row.level,
    }]);
  }
  await store.revokeComputer(3, 99);
}

const base = FIRST_COMPUTER_PAGE;

/** Registers the console's tests through the suite's `test` (a fresh database each). */
export function consoleConformanceTests(
  test: (name: string, body: (fixture: { store: Store }) => Promise<void>) => void,
): void {
  test("queryComputers() filters by search, level, key, state and report age", async ({ store }) => {
    await seed(store);
    const ids = async (query: Partial<ComputerQuery>) =>
      (await store.queryComputers({ ...base, ...query })).computers.map((c) => c.id);
    assert.deepEqual(await ids({}), [1, 2, 3, 4]);
    assert.deepEqual(await ids({ search: "4" }), [4]);
    assert.deepEqual(await ids({ search: "12" }), [1], "a number also searches property values");
    assert.deepEqual(await ids({ search: "alp" }), [1]);
    assert.deepEqual(await ids({ search: "windows" }), [2], "property value of the last report");
    assert.deepEqual(await ids({ search: "%" }), [], "LIKE wildcards are literal");
    assert.deepEqual(await ids({ level: "required" }), [1, 3]);
    assert.deepEqual(await ids({ kid: KID_B }), [3]);
    assert.deepEqual(await ids({ kid: "clear" }), [2]);
    assert.deepEqual(await ids({ kid: "none" }), [4]);
    assert.deepEqual(await ids({ state: "revoked" }), [3]);
    assert.deepEqual(await ids({ state: "active" }), [1, 2, 4]);
    assert.deepEqual(await ids({ state: "held" }), [], "nothing is held while encryption works");
    assert.deepEqual(await ids({ state: "held", heldSince: 11 * HOUR }), [1]);
    assert.deepEqual(await ids({ reportedSince: 11 * HOUR }), [2, 3]);
    assert.deepEqual(await ids({ silentSince: 11 * HOUR }), [1, 4]);
  });

  test("queryComputers() searches the values of each computer's last report, the id first", async ({ store }) => {
    await seed(store);
    const ids = async (query: Partial<ComputerQuery>) =>
      (await store.queryComputers({ ...base, ...query })).computers.map((c) => c.id);
    assert.deepEqual(await ids({ search: "os" }), [3], "a name is not searched: only macOS");
    assert.deepEqual(await ids({ search: "MACOS" }), [3], "case-insensitive");
    await store.storeReports([{
      computerId: 2,
      seq: 2,
      receivedAt: 12 * HOUR,
      encrypted: false,
      kid: null,
      body: JSON.stringify({ properties: { os: "Windows 12" }, custom: { Tag: "T-3" } }),
      digest: "d-new",
      encryptionLevel: "optional",
    }]);
    assert.deepEqual(await ids({ search: "windows 11" }), [], "an older report is not searched");
    assert.deepEqual(await ids({ search: "t-3" }), [2], "custom values");
    assert.deepEqual(await ids({ search: "12" }), [1, 2]);
    assert.deepEqual(await ids({ search: "3" }), [3, 2], "the computer of that id first");
    assert.deepEqual(
      await ids({ search: "2", descending: true }),
      [2, 1],
      "first whatever the order",
    );
  });

  test("queryComputers() sorts and pages on the store, never-reported last", async ({ store }) => {
    await seed(store);
    const page = await store.queryComputers({
      ...base,
      sort: "lastReport",
      descending: true,
      limit: 2,
      offset: 1,
    });
    assert.equal(page.total, 4);
    assert.deepEqual(page.computers.map((c) => c.id), [2, 1]);
    const byName = await store.queryComputers({ ...base, sort: "hostname" });
    assert.deepEqual(byName.computers.map((c) => c.hostname), ["alpha", "beta", "delta", "gamma"]);
  });

  test("summarizeComputers() and reportsPerHour() count what the overview shows", async ({ store }) => {
    await seed(store);
    const summary = await store.summarizeComputers(null);
    assert.equal(summary.total, 4);
    assert.deepEqual(summary.byLevel, { required: 1, optional: 1, unknown: 1 });
    assert.deepEqual(summary.byKid, { [KID_A]: 1, clear: 1, none: 1 });
    assert.equal(summary.byState.revoked, 1);
    assert.equal(summary.byState.active, 3);
    assert.equal(summary.byState.held, 0);
    assert.equal((await store.summarizeComputers(11 * HOUR)).byState.held, 1);
    assert.deepEqual(await store.reportsPerHour(0), [[10 * HOUR, 1], [11 * HOUR, 2]]);
    assert.equal(await store.countReportsOf(1), 1);
    assert.equal((await store.listReportsPage(1, 0, 10))[0].seq, 1);
  });

  test("operators: add once, change password, remove; the audit log is newest first", async ({ store }) => {
    const alice = { name: "alice", role: "admin" as const, passwordHash: "h1", createdAt: 1 };
    assert.equal(await store.addOperator(alice), true);
    assert.equal(await store.addOperator({ ...alice, role: "viewer" }), false);
    assert.equal(await store.setOperatorPassword("alice", "h2"), true);
    assert.equal(await store.setOperatorPassword("nobody", "h2"), false);
    assert.deepEqual(await store.getOperator("alice"), { ...alice, passwordHash: "h2" });
    assert.deepEqual((await store.listOperators()).map((o) => o.name), ["alice"]);
    assert.equal(await store.removeOperator("alice"), true);
    assert.equal(await store.getOperator("alice"), null);
    await store.appendAudit({ at: 1, operator: "alice", action: "sign-in", detail: "" });
    await store.appendAudit({ at: 2, operator: "alice", action: "revoke", detail: "computer 7" });
    assert.deepEqual((await store.listAudit(10)).map((e) => e.action), ["revoke", "sign-in"]);
  });
}
