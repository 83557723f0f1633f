import assert from "node:assert/strict";
import type { ComputerRecord } from "../store/mod.ts";
import { computerRecord } from "../store/_test_computer_record.ts";
import { duplicateGroups } from "./_duplicate_groups.ts";

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2025, 5, 1);

function computer(id: number, fields: Partial<ComputerRecord> = {}): ComputerRecord {
  return computerRecord(id, {
    hostIdentity: "instance:same",
    hostname: `host-${id}`,
    registeredAt: NOW - 100 * DAY + id,
    ...fields,
  });
}

const policy = { now: NOW, minIdleDays: 7, force: false };
const actions = (computers: ComputerRecord[], options = policy) =>
  duplicateGroups(computers, options).map((group) =>
    group.members.map((m) => [m.computer.id, m.action])
  );

Deno.test("duplicateGroups() keeps the entry that reported last, not the newest registration", () => {
  const computers = [
    computer(1, { duplicateOf: 2, lastReportAt: NOW - 20 * DAY }),
    computer(2, { lastReportAt: NOW - 30 * DAY }),
  ];
  assert.deepEqual(actions(computers), [[[1, "keep"], [2, "remove"]]]);
});

Deno.test("duplicateGroups() keeps an entry seen within --min-idle unless forced", () => {
  const computers = [
    computer(1, { duplicateOf: 2, lastReportAt: NOW - 2 * DAY }),
    computer(2, { lastReportAt: NOW - DAY }),
  ];
  const [group] = duplicateGroups(computers, policy);
  assert.deepEqual(group.members.map((m) => m.action), ["keep", "keep"]);
  assert.match(group.members[1].reason, /reported within the last 7 days.*--force removes it/);
  assert.deepEqual(actions(computers, { ...policy, force: true }), [[[2, "keep"], [1, "remove"]]]);
  assert.deepEqual(actions(computers, { ...policy, minIdleDays: 1 }), [[[2, "keep"], [
    1,
    "remove",
  ]]]);
});

Deno.test("duplicateGroups() counts a registration that never reported as seen when it registered", () => {
  const computers = [
    computer(1, { duplicateOf: 2, lastReportAt: NOW - 30 * DAY }),
    computer(2, { registeredAt: NOW - DAY }),
  ];
  const [group] = duplicateGroups(computers, policy);
  assert.deepEqual(group.members.map((m) => [m.computer.id, m.action]), [[1, "keep"], [2, "keep"]]);
  assert.match(group.members[1].reason, /registered within the last 7 days/);
  assert.deepEqual(actions(computers, { ...policy, force: true }), [[[1, "keep"], [2, "remove"]]]);
});

Deno.test("duplicateGroups() joins chains into one group and leaves out removed and unlinked entries", () => {
  const computers = [
    computer(1, { duplicateOf: 3 }),
    computer(2, { duplicateOf: 3 }),
    computer(3, { lastReportAt: NOW - 50 * DAY }),
    computer(4, { duplicateOf: 5, removedAt: NOW - DAY }),
    computer(5),
    computer(6, { hostIdentity: "instance:other" }),
  ];
  assert.deepEqual(actions(computers), [[[3, "keep"], [2, "remove"], [1, "remove"]]]);
});

Deno.test("duplicateGroups() prefers an entry that may still report over a revoked one", () => {
  const computers = [
    computer(1, { duplicateOf: 2, lastReportAt: NOW - 40 * DAY }),
    computer(2, { lastReportAt: NOW - 30 * DAY, revokedAt: NOW - 30 * DAY }),
  ];
  assert.deepEqual(actions(computers), [[[1, "keep"], [2, "remove"]]]);
});
