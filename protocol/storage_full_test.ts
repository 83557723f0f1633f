import assert from "node:assert/strict";
import { isStorageFull, STORAGE_FULL_CODE, storageFullAnswer } from "./storage_full.ts";

Deno.test("isStorageFull() recognises ENOSPC, EDQUOT, SQLITE_FULL and a full disk passed on as text", () => {
  assert.ok(isStorageFull(Object.assign(new Error("write"), { code: "ENOSPC" })));
  assert.ok(isStorageFull(Object.assign(new Error("write"), { code: "EDQUOT" })));
  assert.ok(isStorageFull(new Error("database or disk is full")));
  assert.ok(isStorageFull(new Error("Cannot store reports: database or disk is full")));
  assert.ok(isStorageFull(new Error("No space left on device (os error 28): write '/x'")));
  assert.ok(
    isStorageFull(
      new Error("outer", { cause: Object.assign(new Error("inner"), { code: "ENOSPC" }) }),
    ),
  );
});

Deno.test("isStorageFull() is false for other failures and for values that are not errors", () => {
  assert.equal(isStorageFull(new Error("cannot rollback - no transaction is active")), false);
  assert.equal(isStorageFull(new TypeError("bad input")), false);
  assert.equal(isStorageFull("database or disk is full"), false);
  assert.equal(isStorageFull(null), false);
});

Deno.test("storageFullAnswer() is a 503 with Retry-After and ERR_STORAGE_FULL saying what to do", () => {
  const answer = storageFullAnswer();
  assert.equal(answer.status, 503);
  assert.ok(Number(answer.headers["retry-after"]) >= 1);
  assert.equal(answer.body.error.code, STORAGE_FULL_CODE);
  assert.match(answer.body.error.message, /disk is full; keep what you sent and retry in \d+ s/);
});
