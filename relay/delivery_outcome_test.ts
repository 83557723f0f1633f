import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { deliveryOutcome, type ForwarderStats, settleMessage } from "./delivery_outcome.ts";

Deno.test("deliveryOutcome() maps each answer to what happens to the message", () => {
  const duplicate = { error: { code: "ERR_DUPLICATE_REPORT", message: "m" } };
  const conflict = { error: { code: "ERR_REPORT_CONFLICT", message: "m" } };
  const table: [number, unknown, string][] = [
    [200, null, "delivered"],
    [201, { status: "stored" }, "delivered"],
    [409, duplicate, "duplicate"],
    [409, conflict, "rejected"],
    [409, null, "rejected"],
    [400, duplicate, "rejected"],
    [403, null, "rejected"],
    [413, null, "rejected"],
    [408, null, "retry"],
    [429, null, "retry"],
    [500, duplicate, "retry"],
    [503, null, "retry"],
    [302, null, "retry"],
  ];
  for (const [status, body, expected] of table) {
    assert.equal(deliveryOutcome({ status, body }).kind, expected, `status ${status}`);
  }
});

Deno.test("deliveryOutcome() carries the parent's status, code and bounded message of a refusal", () => {
  const said = "x".repeat(600);
  assert.deepEqual(
    deliveryOutcome({
      status: 403,
      body: { error: { code: "ERR_COMPUTER_REVOKED", message: said } },
    }),
    { kind: "rejected", status: 403, code: "ERR_COMPUTER_REVOKED", message: "x".repeat(500) },
  );
  assert.deepEqual(deliveryOutcome({ status: 400, body: "not json" }), {
    kind: "rejected",
    status: 400,
    code: "none",
    message: "",
  });
  assert.deepEqual(deliveryOutcome({ status: 503, body: null }), {
    kind: "retry",
    reason: "parent answered 503",
  });
});

Deno.test("settleMessage() removes, rejects with the reason, or keeps, and counts each", async () => {
  const removed: string[] = [];
  const rejected: [string, string][] = [];
  const noted: number[] = [];
  const stats: ForwarderStats = { delivered: 0, duplicates: 0, rejected: 0, failures: 0 };
  const target = {
    spool: {
      remove: (id: string) => Promise.resolve(void removed.push(id)),
      reject: (id: string, reason: string) => Promise.resolve(void rejected.push([id, reason])),
    },
    log: silentLogger,
    stats,
    refusals: {
      noteRefusal: (_: Uint8Array, answer: { status: number }) => noted.push(answer.status) && null,
    },
  };
  const bytes = new Uint8Array([1]);
  const refusal = { error: { code: "ERR_COMPUTER_REVOKED", message: "Revoked" } };
  assert.equal(
    (await settleMessage(target, "a", bytes, { status: 202, body: null })).kind,
    "delivered",
  );
  assert.equal(
    (await settleMessage(target, "b", bytes, {
      status: 409,
      body: { error: { code: "ERR_DUPLICATE_REPORT", message: "m" } },
    })).kind,
    "duplicate",
  );
  assert.equal(
    (await settleMessage(target, "c", bytes, { status: 403, body: refusal })).kind,
    "rejected",
  );
  assert.equal(
    (await settleMessage(target, "d", bytes, { status: 503, body: null })).kind,
    "retry",
  );
  assert.deepEqual(removed, ["a", "b"]);
  assert.deepEqual(rejected, [["c", "parent answered 403 ERR_COMPUTER_REVOKED: Revoked"]]);
  assert.deepEqual(noted, [403]);
  assert.deepEqual(stats, { delivered: 1, duplicates: 1, rejected: 1, failures: 0 });
});
