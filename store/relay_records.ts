/**
 * The decrypting relays that hold the site's MLE private keys: a decrypting relay cannot reach
 * the database, so it tells its server (`POST /api/v1/relays/record`, signed with the relay's
 * key, `server/relay_record_route.ts`), which keeps its record here, so that `mle-admin encryption
 * status` shows which relays hold which key and `deploy` refuses a key a live one lacks.
 *
 * @module
 */

import { SERVER_HEARTBEAT_MS } from "./server_records.ts";

/** One decrypting relay as it last reported itself. */
export interface DecryptingRelayRecord {
  /** The relay's computer id (its registration), the key of the record. */
  computerId: number;
  /** The relay's host name and listen address, as it gave them. */
  name: string;
  /** Where its clients reach it, as it gave it. */
  url: string;
  lastSeenAt: number;
  /** Key ids whose private key the relay holds, sorted. */
  kids: string[];
}

/** How often a decrypting relay reports itself: as often as a server records itself. */
export const RELAY_RECORD_INTERVAL_MS = SERVER_HEARTBEAT_MS;

/** A relay not heard from for this long is taken as stopped: three missed reports. */
export const RELAY_LIVE_WITHIN_MS = 3 * RELAY_RECORD_INTERVAL_MS;

/**
 * True when `relay` reported itself recently enough to count as running at `now`.
 *
 * @example
 * ```ts
 * import { isRelayLive } from "./relay_records.ts";
 * const seen = { computerId: 7, name: "r", url: "", lastSeenAt: 1_000, kids: [] };
 * console.log(isRelayLive(seen, 2_000)); // true
 * ```
 */
export function isRelayLive(relay: DecryptingRelayRecord, now: number): boolean {
  return now - relay.lastSeenAt <= RELAY_LIVE_WITHIN_MS;
}
