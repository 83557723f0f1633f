import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import type { ComputerRecord } from "../store/store.ts";
import { inactiveReason, IngestError, ingestErrorFrom } from "./ingest_error.ts";

const active: ComputerRecord = {
  id: 7,
  publicKey: "k",
  hostIdentity: null,
  hostname: null,
  registeredAt: 0,
  lastReportAt: null,
  lastKid: null,
  encryptionLevel: null,
  revokedAt: null,
  replacedBy: null,
  duplicateOf: null,
  flagged: null,
  removedAt: null,
  claimsToReplace: null,
  claimSignedByOldKey: false,
};

Deno.test("inactiveReason() refuses revoked, replaced and removed computers, and only those", () => {
  assert.equal(inactiveReason(active), null);
  assert.equal(inactiveReason({ ...active, duplicateOf: 9, flagged: "confirm" }), null);
  assert.equal(inactiveReason({ ...active, revokedAt: 1 })?.code, "ERR_COMPUTER_REVOKED");
  assert.equal(inactiveReason({ ...active, replacedBy: 8 })?.code, "ERR_COMPUTER_REPLACED");
  assert.match(inactiveReason({ ...active, replacedBy: 8 })!.why, /replaced by computer 8/);
  assert.equal(inactiveReason({ ...active, removedAt: 1 })?.code, "ERR_UNKNOWN_COMPUTER");
});

Deno.test("ingestErrorFrom() gives one opaque decryption refusal, 403 for signatures, 400 otherwise", () => {
  const opaque = ingestErrorFrom(
    new MleError("ERR_DECRYPTION_FAILED", "tag mismatch at byte 3"),
    "envelope",
  );
  assert.equal(opaque.status, 400);
  assert.equal(opaque.message, "Cannot decrypt envelope");
  assert.equal(ingestErrorFrom(new MleError("ERR_SIGNATURE_INVALID", "bad"), "x").status, 403);
  const malformed = ingestErrorFrom(new MleError("ERR_KEY_INVALID", "odd"), "x");
  assert.equal(malformed.code, "ERR_ENVELOPE_MALFORMED");
  const passed = new IngestError(409, "ERR_DUPLICATE_REPORT", "dup");
  assert.equal(ingestErrorFrom(passed, "x"), passed);
  assert.throws(() => ingestErrorFrom(new Error("bug"), "x"), /bug/);
});
