import assert from "node:assert/strict";
import { seededRandom } from "./seeded_random.ts";

Deno.test("seededRandom() repeats its sequence for a seed and differs between seeds", () => {
  const take = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 100 }, () => random());
  };
  assert.deepEqual(take(15), take(15));
  assert.notDeepEqual(take(15), take(16));
  assert.deepEqual(take(2 ** 32 + 15), take(15)); // the seed's low 32 bits
  assert.ok(take(7).every((value) => value >= 0 && value < 1));
});
