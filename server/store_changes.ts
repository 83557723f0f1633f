/**
 * What this server caches from a store that other servers and the admin tool change: the
 * computers' states (`computer_directory.ts`), the keys and the certificate (`key_ring.ts`), the
 * encryption levels deployed in settings (`clear_text_policy.ts`), and its own record
 * (`server_registry.ts`). Everything else (the settings served to clients, bundle senders, the
 * revocation list, sealed content keys, uploads) is read from the store when needed, so it is in
 * force at every server as soon as it is committed.
 *
 * Both ways run together: the poll every {@linkcode STORE_POLL_MS} (all a SQLite store allows,
 * and the safety net), and, where the store tells of changes (PostgreSQL `LISTEN/NOTIFY`), a
 * reaction to each at once, so a revocation does not wait for a poll.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { SERVER_POLL_MS } from "../store/server_records.ts";
import type { Store, StoreChange } from "../store/store.ts";
import type { ClearTextPolicy } from "./clear_text_policy.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import type { KeyRing } from "./key_ring.ts";
import type { ServerRegistry } from "./server_registry.ts";

/** How often the caches are re-read whatever the store tells. */
export const STORE_POLL_MS = SERVER_POLL_MS;

/** What follows the store. */
export interface StoreFollowers {
  store: Store;
  computers: ComputerDirectory;
  keys: KeyRing;
  clearText: ClearTextPolicy;
  registry: ServerRegistry;
  log: Logger;
}

/**
 * Starts following the store's changes; returns the function that stops the poll (listening
 * ends when the store closes).
 *
 * @example
 * ```ts ignore
 * const stop = await followStoreChanges({ store, computers, keys, clearText, registry, log });
 * ```
 */
export async function followStoreChanges(followers: StoreFollowers): Promise<() => void> {
  const { store, computers, keys, clearText, registry, log } = followers;
  const reloadKeys = () =>
    keys.refresh().then(() => registry.noteKeys()).catch((error) =>
      log.warn("key refresh failed", { cause: (error as Error).message })
    );
  const reloadComputers = () =>
    computers.refresh().catch((error) =>
      log.warn("computer refresh failed", { cause: (error as Error).message })
    );
  const reloadSettings = () =>
    clearText.refresh().then(
      (records) => records !== null && log.info("settings changed, levels read", { records }),
      (error) => log.warn("settings refresh failed", { cause: (error as Error).message }),
    );
  const onChange = (change: StoreChange) => {
    if (change.kind === "computer") {
      computers.forget(change.computerId);
    } else if (change.kind === "keys") {
      void reloadKeys();
    } else {
      void reloadKeys();
      void reloadComputers();
      void reloadSettings();
    }
  };
  const notified = await store.watchChanges(onChange);
  log.debug("following the store's changes", { notifications: notified, pollMs: STORE_POLL_MS });
  const poll = setInterval(() => {
    void reloadKeys();
    void reloadComputers();
    void reloadSettings();
  }, STORE_POLL_MS);
  return () => clearInterval(poll);
}
