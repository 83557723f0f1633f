import assert from "node:assert/strict";
import { parseDuration } from "./duration.ts";

Deno.test("parseDuration() reads seconds, minutes, hours and days", () => {
  assert.equal(parseDuration("2s"), 2000);
  assert.equal(parseDuration("30m"), 1_800_000);
  assert.equal(parseDuration("12H"), 43_200_000);
  assert.equal(parseDuration(" 7d "), 604_800_000);
});

Deno.test("parseDuration() refuses a duration without a unit, zero, negative or fractional", () => {
  for (const text of ["", "7", "0s", "-1d", "1.5h", "7w", "d", "1e3s"]) {
    assert.throws(() => parseDuration(text), RangeError, text);
  }
});
