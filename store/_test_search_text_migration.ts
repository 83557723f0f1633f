/**
 * Test support: migration 5 (the search text of each computer's last report) as both backends'
 * tests check it: the rows written before it, and what the console's search finds after it.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Store } from "./store.ts";

/** The computers written before migration 5 (SQL both backends run as is). */
export const COMPUTERS_BEFORE_MIGRATION_5 =
  `INSERT INTO computers (public_key, registered_at, last_report_at) VALUES
      ('k1', 1, 20), ('k2', 1, 30), ('k3', 1, NULL)`;

/**
 * The reports written before migration 5, as `[computerId, seq, receivedAt, body]`: computer 1's
 * older and last report, and computer 2's last, whose body the backend cannot read as JSON
 * (`unreadableBody`, which the migration must skip).
 */
export function reportsBeforeMigration5(
  unreadableBody: string,
): Array<readonly [number, number, number, string]> {
  const body = (props: unknown) => JSON.stringify({ properties: props, custom: { Tag: "T-9" } });
  return [
    [1, 1, 10, body({ os: "OldOS" })],
    [1, 2, 20, body({ os: "Debian 12", ips: ["10.1.1.1"], virtual: true })],
    [2, 1, 30, unreadableBody],
  ];
}

/** Asserts that the migrated store's search finds the values of each last report, and no more. */
export async function assertSearchTextMigrated(store: Store): Promise<void> {
  const ids = async (search: string) =>
    (await store.queryComputers({
      heldSince: null,
      sort: "id",
      descending: false,
      offset: 0,
      limit: 50,
      search,
    })).computers.map((c) => c.id);
  assert.deepEqual(await ids("debian"), [1]);
  assert.deepEqual(await ids("10.1.1.1"), [1], "a list's items");
  assert.deepEqual(await ids("t-9"), [1], "custom values");
  assert.deepEqual(await ids("oldos"), [], "only the last report");
  assert.deepEqual(await ids("os"), [], "names are not searched; an unreadable body skipped");
}
