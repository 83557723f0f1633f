/**
 * Parses a duration flag: a whole number with a unit, `s`, `m`, `h` or `d` (`90s`, `30m`, `7d`).
 *
 * @module
 */

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses a duration into milliseconds.
 *
 * @throws {RangeError} When the text is not a positive whole number followed by s, m, h or d.
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * console.log(parseDuration("7d")); // 604800000
 * ```
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d{1,9})\s*([smhd])\s*$/i.exec(text);
  const ms = match
    ? Number(match[1]) * UNIT_MS[match[2].toLowerCase() as keyof typeof UNIT_MS]
    : NaN;
  if (!(ms > 0) || !Number.isSafeInteger(ms)) {
    throw new RangeError(
      `Cannot read duration "${text}": expected a positive whole number with s, m, h or d, ` +
        "for example 7d",
    );
  }
  return ms;
}
