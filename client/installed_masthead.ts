/**
 * The client's trust anchor: the site's masthead installed in its data dir (`masthead.json`),
 * replaced only by a newer masthead of the same site.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import { type Masthead, verifyMasthead } from "../protocol/masthead.ts";

/**
 * Verifies the installed masthead and, when `mastheadFile` is given, installs it on first use or
 * when it is a newer masthead carrying the same site key.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID` when the file cannot be read or verified, or when no
 * masthead is installed and none is given.
 */
export async function installMasthead(
  dataDir: string,
  mastheadFile: string | undefined,
  say: (line: string) => void,
): Promise<{ masthead: Masthead; siteKey: CryptoKey }> {
  const installedPath = joinPath(dataDir, "masthead.json");
  let installed: { masthead: Masthead; siteKey: CryptoKey } | null = null;
  try {
    installed = await verifyMasthead(JSON.parse(await Deno.readTextFile(installedPath)));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (mastheadFile) {
    const text = await Deno.readTextFile(mastheadFile).catch((error) => {
      throw new MleError(
        "ERR_DOCUMENT_INVALID",
        `Cannot read masthead "${mastheadFile}": ${(error as Error).message}`,
      );
    });
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new MleError(
        "ERR_DOCUMENT_INVALID",
        `Cannot read masthead "${mastheadFile}": not JSON`,
      );
    }
    const offered = await verifyMasthead(document, installed?.masthead.sitePublicKey);
    if (!installed || offered.masthead.createdAt > installed.masthead.createdAt) {
      await replaceFileAtomically(installedPath, text, 0o644);
      installed = offered;
      say(`installed the masthead of site "${offered.masthead.siteName}"`);
    }
  }
  if (!installed) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      "Cannot start: no masthead installed; give --masthead FILE (the site's masthead.json)",
    );
  }
  return installed;
}
