/**
 * The servers sharing a store: each records itself (name, URL, which MLE private keys load
 * there) when it starts and every {@linkcode SERVER_HEARTBEAT_MS} after, so that the admin tool
 * can tell which live server lacks a key before deploying it (`server/server_registry.ts` writes
 * these records, `admin/_key_holders.ts` reads them).
 *
 * @module
 */

/** One server as it last recorded itself. */
export interface ServerRecord {
  /** Unique per server (`mle-server run --server-name`, default `HOSTNAME:PORT`). */
  name: string;
  /** Where clients and relays reach it, as the operator gave it. */
  url: string;
  startedAt: number;
  lastSeenAt: number;
  /** When it stopped cleanly (no longer live), or null while running or after a crash. */
  stoppedAt: number | null;
  /** Key ids whose private key loads on this server, sorted. */
  kids: string[];
}

/**
 * How often a running server re-reads the keys and computers whatever the store tells it; a
 * server records itself at once when the keys it loaded change, so within this (and a little
 * more) of a key file arriving, its record says whether it holds the key.
 */
export const SERVER_POLL_MS = 2_000;

/** How often a running server records that it is alive. */
export const SERVER_HEARTBEAT_MS = 10_000;

/** A server not seen for this long is taken as stopped: three missed heartbeats. */
export const SERVER_LIVE_WITHIN_MS = 3 * SERVER_HEARTBEAT_MS;

/**
 * True when `server` recorded itself recently enough to count as running at `now`.
 *
 * @example
 * ```ts
 * import { isServerLive } from "./server_records.ts";
 * const seen = { name: "a", url: "", startedAt: 0, lastSeenAt: 1_000, stoppedAt: null, kids: [] };
 * console.log(isServerLive(seen, 2_000)); // true
 * ```
 */
export function isServerLive(server: ServerRecord, now: number): boolean {
  return server.stoppedAt === null && now - server.lastSeenAt <= SERVER_LIVE_WITHIN_MS;
}
