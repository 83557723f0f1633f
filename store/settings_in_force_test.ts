import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeBase64UrlText } from "../envelope/base64url.ts";
import { mergeSettings, type SettingsDocument } from "../protocol/settings.ts";
import { SettingForEveryComputer, settingsDocumentsOf } from "./settings_in_force.ts";
import type { SettingsRecord } from "./store.ts";

const LEVEL = "_BESClient_Report_Encryption";

/** A settings record as the store keeps it: the signed document's JSON text. */
function record(serial: number, computerId: number | null, body: SettingsDocument): SettingsRecord {
  const payload = encodeBase64UrlText(JSON.stringify(body));
  return { serial, computerId, document: JSON.stringify({ payload }), createdAt: serial };
}

function document(
  issuedAt: number,
  id: string,
  settings: Record<string, string>,
  unset?: string[],
): SettingsDocument {
  return { computers: "all", settings, issuedAt, id, ...(unset ? { unset } : {}) };
}

Deno.test("SettingForEveryComputer: the newest of a computer's own documents and those for all wins, a removal included", () => {
  const levels = new SettingForEveryComputer(LEVEL, [
    record(1, null, document(10, "a", { [LEVEL]: "optional" })),
    record(2, 7, document(20, "b", { [LEVEL]: "required" })),
    // Older than computer 7's own, though stored later: it does not override it.
    record(3, null, document(15, "c", { [LEVEL]: "none", Other: "x" })),
    record(4, 8, document(30, "d", {}, [LEVEL])),
    record(5, 9, document(5, "e", { [LEVEL]: "required" })),
    record(6, 10, document(40, "f", { Other: "y" })),
  ]);
  assert.equal(levels.valueFor(7), "required");
  assert.equal(levels.valueFor(8), null, "removed for 8");
  assert.equal(levels.valueFor(9), "none", "9's own is older than the newest for all");
  assert.equal(levels.valueFor(10), "none", "10's own document names another setting");
  assert.equal(levels.valueFor(11), "none");
  assert.equal(new SettingForEveryComputer(LEVEL, []).valueFor(7), undefined);
  assert.equal(
    new SettingForEveryComputer(LEVEL, [record(1, 7, document(1, "a", { Other: "x" }))])
      .valueFor(7),
    undefined,
  );
});

Deno.test("SettingForEveryComputer: unreadable records are passed over, as settingsDocumentsOf does", () => {
  const unreadable = { serial: 2, computerId: null, document: "not json", createdAt: 2 };
  const levels = new SettingForEveryComputer(LEVEL, [
    record(1, null, document(10, "a", { [LEVEL]: "required" })),
    unreadable,
  ]);
  assert.equal(levels.valueFor(3), "required");
});

Deno.test("SettingForEveryComputer gives every computer what the per-computer merge gives it", () => {
  const computers = [1, 2, 3];
  const entry = fc.record({
    computerId: fc.option(fc.constantFrom(...computers), { nil: null }),
    // Few distinct times, so that ties (broken by the id) come up; each document's id its own.
    issuedAt: fc.integer({ min: 1, max: 4 }),
    id: fc.constantFrom("a", "b", "c"),
    level: fc.option(fc.constantFrom("none", "optional", "required"), { nil: null }),
    other: fc.boolean(),
  });
  fc.assert(fc.property(fc.array(entry, { maxLength: 12 }), (entries) => {
    const records = entries.map((e, i) =>
      record(
        i + 1,
        e.computerId,
        document(
          e.issuedAt,
          `${e.id}${i}`,
          { ...(e.level === null ? {} : { [LEVEL]: e.level }), ...(e.other ? { Other: "x" } : {}) },
          e.level === null && !e.other ? [LEVEL] : undefined,
        ),
      )
    );
    const levels = new SettingForEveryComputer(LEVEL, records);
    for (const id of computers) {
      const own = records.filter((r) => r.computerId === null || r.computerId === id);
      const merged = mergeSettings({}, settingsDocumentsOf(own));
      assert.equal(
        levels.valueFor(id),
        Object.hasOwn(merged, LEVEL) ? merged[LEVEL].value : undefined,
      );
    }
  }));
});
