/**
 * Test support: the site's computers as the real admin tool lists them
 * (`mle-admin computers list --json`), with the fields the tests read.
 *
 * @module
 */

import assert from "node:assert/strict";
import { admin, type TestSite } from "./test_site.ts";

/** A key rotation asked of a computer (`mle-admin computers rotate-keys`), as listed. */
export interface ListedRotation {
  computerId: number;
  state: "requested" | "done" | "ended";
  newComputerId: number | null;
  compromised: boolean;
  awaitingConfirm: boolean;
}

/** A computer of `mle-admin computers list --json`, with the fields the tests read. */
export interface ListedComputer {
  id: number;
  revokedAt: number | null;
  replacedBy: number | null;
  duplicateOf: number | null;
  removedAt: number | null;
  flagged: string | null;
  orphaned: boolean;
  claimsToReplace: number | null;
  /** The evidence behind `claimsToReplace`, or null. */
  claim: {
    replaces: number;
    signedByOldKey: boolean;
    sameHostIdentity: boolean;
    replacedReportedSince: boolean;
  } | null;
  rotation: ListedRotation | null;
}

/**
 * The site's computers as `mle-admin computers list --json` gives them; `all` adds the entries
 * removed by `remove-duplicates` (`--all`).
 */
export async function listComputers(
  site: TestSite,
  options: { all?: boolean } = {},
): Promise<ListedComputer[]> {
  const result = await admin([
    "computers",
    "list",
    "--json",
    ...(options.all ? ["--all"] : []),
    "--data-dir",
    site.serverDir,
  ], site.adminEnv);
  return JSON.parse(result.stdout);
}

/**
 * Runs `attempt` (one that must register nothing) and fails the test when the site lists another
 * number of computers after it than before; what `attempt` returned.
 */
export async function registersNothing<T>(site: TestSite, attempt: () => Promise<T>): Promise<T> {
  const before = (await listComputers(site)).length;
  const result = await attempt();
  assert.equal((await listComputers(site)).length, before, "the attempt registered a computer");
  return result;
}
