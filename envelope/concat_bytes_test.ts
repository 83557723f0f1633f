import assert from "node:assert/strict";
import { concatBytes } from "./concat_bytes.ts";

Deno.test("concatBytes() joins the parts in order into a copy of their total length", () => {
  const first = new Uint8Array([1, 2]);
  const second = new Uint8Array([3, 4, 5]).subarray(1);
  const joined = concatBytes([first, new Uint8Array(0), second]);
  assert.deepEqual([...joined], [1, 2, 4, 5]);
  first[0] = 9;
  assert.equal(joined[0], 1);
});

Deno.test("concatBytes() of no parts is an empty array", () => {
  assert.equal(concatBytes([]).length, 0);
});
