/**
 * The client's encryption level, setting `_BESClient_Report_Encryption` (seed 001).
 *
 * - `required`: never sends a report or upload in clear; with no certificate, or a parent that
 *   does not accept encrypted documents, it keeps the data queued and sends nothing.
 * - `optional`: encrypts whenever it can, otherwise sends clear text (still signed).
 * - `none`: never encrypts.
 *
 * @module
 */

/** One of the three levels. */
export type EncryptionLevel = "required" | "optional" | "none";

/** Every encryption level, strictest first. */
export const ENCRYPTION_LEVELS: readonly EncryptionLevel[] = ["required", "optional", "none"];

/** The setting's name, as the original's. */
export const ENCRYPTION_LEVEL_SETTING = "_BESClient_Report_Encryption";

/**
 * Parses a level, case-insensitively.
 *
 * @throws {RangeError} For any other value, naming the accepted ones.
 * @example
 * ```ts
 * import { parseEncryptionLevel } from "./encryption_level.ts";
 * console.log(parseEncryptionLevel("REQUIRED")); // "required"
 * ```
 */
export function parseEncryptionLevel(value: string): EncryptionLevel {
  const level = value.trim().toLowerCase();
  if (level === "required" || level === "optional" || level === "none") return level;
  throw new RangeError(
    `Cannot use encryption level "${value}": expected required, optional or none`,
  );
}
