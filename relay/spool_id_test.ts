import assert from "node:assert/strict";
import { arrivalOf, checkSpoolId, idOfFileName, isSpoolId, SpoolIds } from "./spool_id.ts";

Deno.test("SpoolIds gives increasing ids after the newest stored one, even when the clock is behind it", () => {
  const future = Date.now() + 60_000;
  const newest = `${String(future).padStart(16, "0")}-000007-0a1b2c3d`;
  const ids = new SpoolIds(newest);
  const first = ids.next();
  const second = ids.next();
  assert.ok(first > newest && second > first, `${newest} < ${first} < ${second}`);
  assert.equal(arrivalOf(first), future);
  assert.equal(first.slice(17, 23), "000008");
  assert.ok(isSpoolId(first) && isSpoolId(second));
});

Deno.test("spool ids name files only when well formed", () => {
  const id = "0001733320000000-000000-0a1b2c3d";
  assert.equal(idOfFileName(`${id}.json`), id);
  assert.equal(idOfFileName(`${id}.reason`), null);
  assert.equal(idOfFileName("../0001733320000000-000000-0a1b2c3d.json"), null);
  assert.equal(checkSpoolId(id), id);
  assert.throws(() => checkSpoolId("../etc/passwd"), RangeError);
});
