/**
 * What a key rotation leaves for the next registration (`rotation.json` in the data dir, outside
 * KeyStorage so that deleting KeyStorage does not lose it): the old computer id, whether the old
 * key was compromised, and the old key's hand-over to the new key (after a compromise, evidence
 * for the operator only).
 *
 * @module
 */

import type { FlattenedJws } from "../envelope/jws.ts";
import { joinPath, readSecretFile, replaceFileAtomically } from "../keystore/secure_file.ts";

/** The record. */
export interface RotationRecord {
  previousComputerId: number | null;
  compromised: boolean;
  handover: FlattenedJws | null;
  rotatedAt: string;
}

const FILE = "rotation.json";

/** Reads the pending rotation record, or null. */
export async function readRotationRecord(dataDir: string): Promise<RotationRecord | null> {
  try {
    return JSON.parse(new TextDecoder().decode(await readSecretFile(joinPath(dataDir, FILE))));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Writes the rotation record (0600, atomically). */
export async function writeRotationRecord(dataDir: string, record: RotationRecord): Promise<void> {
  await replaceFileAtomically(joinPath(dataDir, FILE), JSON.stringify(record));
}

/** Removes the record once the new key is registered. */
export async function clearRotationRecord(dataDir: string): Promise<void> {
  await Deno.remove(joinPath(dataDir, FILE)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
