/**
 * A small seeded generator (Mulberry32) for the scripts that play chaos or fuzz: a run can be
 * repeated exactly with its `--seed`. Not for anything secret.
 *
 * @module
 */

/**
 * Numbers in [0, 1), the same sequence for the same seed (its low 32 bits).
 *
 * @example
 * ```ts
 * import { seededRandom } from "./seeded_random.ts";
 * const random = seededRandom(15);
 * console.log(random() === seededRandom(15)()); // true
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
