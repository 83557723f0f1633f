/**
 * Storage shared by the server and the admin tool.
 *
 * @module
 */

import { joinPath } from "../keystore/secure_file.ts";
import { SqliteStore } from "./sqlite_store.ts";
import type { Store } from "./store.ts";

export * from "./store.ts";
export { SqliteStore } from "./sqlite_store.ts";

/** File name of the embedded database inside the server's data dir. */
export const DATABASE_FILE = "mle-server.db";

/**
 * Opens the store of a server data dir: the embedded SQLite database.
 *
 * @example
 * ```ts ignore
 * import { openStore } from "./mod.ts";
 * const store = openStore("/var/opt/mle-server");
 * ```
 */
export function openStore(dataDir: string): Store {
  return new SqliteStore(joinPath(dataDir, DATABASE_FILE));
}
