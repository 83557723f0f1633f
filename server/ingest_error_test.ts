import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import { computerRecord } from "../store/_test_computer_record.ts";
import { inactiveReason, IngestError, ingestErrorFrom } from "./ingest_error.ts";

const active = computerRecord(7, { publicKey: "k" });

Deno.test("inactiveReason() refuses revoked, replaced and removed computers, and only those", () => {
  assert.equal(inactiveReason(active), null);
  assert.equal(inactiveReason({ ...active, duplicateOf: 9, flagged: "confirm" }), null);
  assert.equal(inactiveReason({ ...active, revokedAt: 1 })?.code, "ERR_COMPUTER_REVOKED");
  assert.equal(inactiveReason({ ...active, replacedBy: 8 })?.code, "ERR_COMPUTER_REPLACED");
  assert.match(inactiveReason({ ...active, replacedBy: 8 })!.why, /replaced by computer 8/);
  assert.equal(inactiveReason({ ...active, removedAt: 1 })?.code, "ERR_UNKNOWN_COMPUTER");
});

Deno.test("inactiveReason() accepts a replaced computer's reports up to its hand-over's last sequence number, and nothing later", () => {
  const replaced = { ...active, replacedBy: 8, handoverLastSeq: 5 };
  assert.equal(inactiveReason(replaced, 1), null);
  assert.equal(inactiveReason(replaced, 5), null);
  assert.equal(inactiveReason(replaced, 6)?.code, "ERR_COMPUTER_REPLACED");
  assert.match(inactiveReason(replaced, 6)!.why, /only its reports up to 5 are accepted/);
  // Without a sequence number (an upload, a relay's key request): refused.
  assert.equal(inactiveReason(replaced)?.code, "ERR_COMPUTER_REPLACED");
  // Revoked (the operator's word) or removed wins over the grace.
  assert.equal(inactiveReason({ ...replaced, revokedAt: 1 }, 1)?.code, "ERR_COMPUTER_REVOKED");
  assert.equal(inactiveReason({ ...replaced, removedAt: 1 }, 1)?.code, "ERR_UNKNOWN_COMPUTER");
  // A hand-over that named no number (an older client): no grace.
  assert.equal(inactiveReason({ ...active, replacedBy: 8 }, 1)?.code, "ERR_COMPUTER_REPLACED");
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
