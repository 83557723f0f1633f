/**
 * Reads a signed document this relay kept from an earlier run (its newest verified revocation
 * list, encryption certificate): the parsed JSON, to be verified again before any use.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { readTextFileIfExists } from "../keystore/secure_file.ts";

/**
 * The document kept at `path`, or undefined when there is none or it is not JSON (logged, and
 * ignored: the parent's copy replaces it).
 *
 * @param what the document, for the log line ("revocation list").
 */
export async function readStoredDocument(
  path: string,
  log: Logger,
  what: string,
): Promise<unknown | undefined> {
  const text = await readTextFileIfExists(path);
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    log.warn(`ignored the stored ${what}: not JSON`, { file: path });
    return undefined;
  }
}
