/**
 * What the site's revocation list must name, read from the store: every revoked computer and every
 * retired MLE key. The admin tool signs a list with exactly this content (`admin/_revocations.ts`);
 * the console checks that a list the operator signed in the browser names no less.
 *
 * @module
 */

import type { Store } from "./store.ts";

/** The content of a revocation list, without its version. */
export interface RevocationContent {
  /** Revoked computer ids, ascending. */
  revoked: number[];
  /** Retired MLE key ids, sorted. */
  retiredKeys: string[];
}

/**
 * The revocation list's content as the store says now.
 *
 * @example
 * ```ts
 * import { SqliteStore } from "./sqlite_store.ts";
 * import { revocationContent } from "./revocation_content.ts";
 * const store = new SqliteStore(":memory:");
 * console.log(await revocationContent(store)); // { revoked: [], retiredKeys: [] }
 * store.close();
 * ```
 */
export async function revocationContent(store: Store): Promise<RevocationContent> {
  const revoked = await store.listRevokedIds();
  const retiredKeys = (await store.listEncryptionKeys())
    .filter((key) => key.role === "retired")
    .map((key) => key.kid)
    .sort();
  return { revoked, retiredKeys };
}
