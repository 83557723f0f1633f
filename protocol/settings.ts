/**
 * Client settings documents: the site key's signed decision to set named client settings, for all
 * computers or for listed ones (the seed's "BigFix Client Setting: Encrypted Reports" task).
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";
import { ENCRYPTION_LEVEL_SETTING, parseEncryptionLevel } from "./encryption_level.ts";

/** A settings document's body. */
export interface SettingsDocument {
  /** "all" or the computer ids it targets. */
  computers: "all" | number[];
  settings: Record<string, string>;
  /** Milliseconds since the epoch: later documents win. */
  issuedAt: number;
  /** Random id, so two documents issued in the same millisecond stay distinct. */
  id: string;
}

/**
 * Checks one setting's name and value; known settings are validated, others must at least be
 * printable text of bounded size.
 *
 * @throws {RangeError} Naming what is accepted.
 */
export function checkSetting(name: string, value: string): void {
  if (!/^_?[A-Za-z][A-Za-z0-9_]{0,127}$/.test(name)) {
    throw new RangeError(`Cannot set "${name}": a setting name is letters, digits and underscores`);
  }
  if (value.length > 4096 || [...value].some((c) => c.charCodeAt(0) < 0x20)) {
    throw new RangeError(
      `Cannot set "${name}": value must be printable and at most 4096 characters`,
    );
  }
  if (name === ENCRYPTION_LEVEL_SETTING) parseEncryptionLevel(value);
}

/** Signs a settings document. */
export async function signSettings(
  sitePrivateKey: CryptoKey,
  document: SettingsDocument,
): Promise<SignedDocument> {
  for (const [name, value] of Object.entries(document.settings)) checkSetting(name, value);
  return await signDocument(sitePrivateKey, "mle-settings", { ...document });
}

/**
 * Verifies a settings document and that it targets `computerId`.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`.
 */
export async function verifySettings(
  siteKey: CryptoKey,
  document: unknown,
  computerId: number,
): Promise<SettingsDocument> {
  const body = await verifyDocument(
    siteKey,
    "mle-settings",
    document,
  ) as unknown as SettingsDocument;
  const targets = body.computers;
  if (
    typeof body.issuedAt !== "number" || typeof body.settings !== "object" ||
    body.settings === null || Array.isArray(body.settings) ||
    (targets !== "all" && !Array.isArray(targets))
  ) {
    throw new MleError("ERR_DOCUMENT_INVALID", "Cannot read settings: bad fields");
  }
  if (targets !== "all" && !targets.includes(computerId)) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      `Cannot apply settings: not meant for computer ${computerId}`,
    );
  }
  for (const [name, value] of Object.entries(body.settings as Record<string, unknown>)) {
    if (typeof value !== "string") {
      throw new MleError("ERR_DOCUMENT_INVALID", `Cannot apply settings: "${name}" is not text`);
    }
    try {
      checkSetting(name, value);
    } catch (cause) {
      throw new MleError(
        "ERR_DOCUMENT_INVALID",
        `Cannot apply settings: ${(cause as Error).message}`,
      );
    }
  }
  return body;
}
