/**
 * The short crash soak in `npm test`: `scripts/soak.ts` with a few hundred reports and four
 * kills, each in a moment it aims at (the server while an upload's chunks are written and during
 * a key rotation, an agent during its own `rotate-keys`, the decrypting relay with a bundle in
 * flight), real processes on 127.0.0.1. Nothing a
 * client was told was delivered, or still holds, may be lost or stored twice; the upload in
 * progress completes with its SHA-256; no report's canary is in clear on a relay's disk.
 */

import assert from "node:assert/strict";
import type { SoakResult } from "../scripts/soak.ts";
import { runScriptToSuccess } from "./run_script.ts";

Deno.test("a short crash soak (300 reports, 4 kills) loses, duplicates and corrupts nothing", async () => {
  const args = "--reports 300 --kills 4 --clients 40 --minutes 3 --seed 15".split(" ");
  const { result } = await runScriptToSuccess<SoakResult>("soak.ts", args);
  assert.equal(result.reports_acknowledged, 300);
  assert.equal(result.stored, 300);
  assert.equal(result.lost, 0);
  assert.equal(result.duplicated, 0);
  assert.equal(result.kills, 4);
  assert.equal(result.restarts, 4);
  assert.equal(result.killed.server >= 1, true, "the server dies during the key rotation");
  assert.equal(result.uploads_completed, 1);
  assert.equal(result.uploads_corrupt, 0);
  assert.equal(result.clear_text_on_relay_disks, 0);
  assert.ok(result.agents_reports_stored > 0, "the real agents' reports were stored");
  assert.equal(result.agents_rotated, 1, "an agent rotated its key, killed during it");
  // Each moment the soak aims at was hit, as seen from the process's own state at the kill.
  assert.deepEqual(result.targeted_kills, {
    key_rotation: 1,
    client_rotate_keys: 1,
    bundle_in_flight: 1,
    upload_chunk_write: 1,
  }, JSON.stringify(result));
});
