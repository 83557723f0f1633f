/**
 * Test support: the bytes of a report as a client writes it, for tests that sign and seal
 * reports themselves.
 *
 * @module
 */

/**
 * A report of computer `cid` with sequence number `seq`, created now, with these custom values and
 * properties (by default the level a client requiring encryption states).
 */
export function reportBytes(
  cid: number,
  seq: number,
  custom: Record<string, string> = {},
  properties: Record<string, string> = { encryption_level: "required" },
): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(JSON.stringify({
    computerId: cid,
    seq,
    createdAt: new Date().toISOString(),
    properties,
    custom,
    relevance: [],
    actionStatuses: [],
    analyses: [],
  }));
}
