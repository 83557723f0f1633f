import assert from "node:assert/strict";
import { ContentKeyBudget, parseContentKeyBudget } from "./content_key_budget.ts";

Deno.test("parseContentKeyBudget() reads N/UNIT and refuses anything else with the expected form", () => {
  assert.deepEqual(parseContentKeyBudget("10/h"), { keys: 10, windowMs: 3_600_000 });
  assert.deepEqual(parseContentKeyBudget("3/m"), { keys: 3, windowMs: 60_000 });
  assert.deepEqual(parseContentKeyBudget("100/d"), { keys: 100, windowMs: 86_400_000 });
  for (const bad of ["", "10", "0/h", "10/w", "-1/h", "1.5/h", "ten/h"]) {
    assert.throws(() => parseContentKeyBudget(bad), /expected new keys per unit, e\.g\. "10\/h"/);
  }
});

Deno.test("ContentKeyBudget: a full bucket per computer, refilled evenly, with the wait until the next key", () => {
  const budget = new ContentKeyBudget({ keys: 3, windowMs: 3_600_000 });
  for (let i = 0; i < 3; i++) assert.deepEqual(budget.take(1, 0), { granted: true });
  assert.deepEqual(budget.take(1, 0), { granted: false, retryAfterSeconds: 1200 });
  assert.deepEqual(budget.take(2, 0), { granted: true }, "another computer has its own");
  assert.deepEqual(budget.take(1, 600_000), { granted: false, retryAfterSeconds: 600 });
  assert.deepEqual(budget.take(1, 1_200_000), { granted: true });
  assert.equal(budget.take(1, 1_200_000).granted, false);
});

Deno.test("ContentKeyBudget: forgets the least recently used computer past its bound", () => {
  const budget = new ContentKeyBudget({ keys: 1, windowMs: 60_000 }, 2);
  budget.take(1, 0);
  budget.take(2, 0);
  budget.take(3, 0); // computer 1 is forgotten
  assert.equal(budget.take(2, 0).granted, false);
  assert.equal(budget.take(1, 0).granted, true);
});
