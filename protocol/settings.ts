/**
 * Client settings documents: the site key's signed decision to set named client settings, for all
 * computers or for listed ones (the seed's "BigFix Client Setting: Encrypted Reports" task).
 *
 * @module
 */

import { decodeBase64UrlText } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";
import { ENCRYPTION_LEVEL_SETTING, parseEncryptionLevel } from "./encryption_level.ts";
import { parseServerUrl } from "./masthead.ts";
import { RELAY_SERVER_SETTINGS, RESIST_FAILURE_SETTING } from "./parent_list.ts";

/**
 * The site's signed permission for clients to send clear text through a parent that does not take
 * encrypted reports, although encryption is enabled: "1" allows it, "0" (the default) does not.
 * Without it, an `optional` client holding the site's certificate keeps such reports queued.
 */
export const ALLOW_LEGACY_RELAYS_SETTING = "_BESClient_Report_Encryption_AllowLegacyRelays";

/** A settings document's body. */
export interface SettingsDocument {
  /** "all" or the computer ids it targets. */
  computers: "all" | number[];
  settings: Record<string, string>;
  /** Milliseconds since the epoch: later documents win. */
  issuedAt: number;
  /** Random id, so two documents issued in the same millisecond stay distinct. */
  id: string;
  /**
   * Settings this document removes (`mle-admin settings unset`): for each, the newest document
   * wins as for a value, so a removal newer than a value drops it, and an older one does nothing.
   */
  unset?: string[];
  /** Who signed it, as the admin tool recorded it (the operator's user name): for the record. */
  issuedBy?: string;
}

/** Most settings one document may remove. */
const MAX_UNSET = 256;

/**
 * Checks a setting's name: letters, digits and underscores, at most 128.
 *
 * @throws {RangeError} Naming what is accepted.
 */
export function checkSettingName(name: string): void {
  // Two leading underscores: the original's own names (`__RelayServer1`).
  if (!/^_{0,2}[A-Za-z][A-Za-z0-9_]{0,127}$/.test(name)) {
    throw new RangeError(`Cannot set "${name}": a setting name is letters, digits and underscores`);
  }
}

/**
 * Checks one setting's name and value; known settings are validated, others must at least be
 * printable text of bounded size.
 *
 * @throws {RangeError} Naming what is accepted.
 */
export function checkSetting(name: string, value: string): void {
  checkSettingName(name);
  if (value.length > 4096 || [...value].some((c) => c.charCodeAt(0) < 0x20)) {
    throw new RangeError(
      `Cannot set "${name}": value must be printable and at most 4096 characters`,
    );
  }
  if (name === ENCRYPTION_LEVEL_SETTING) parseEncryptionLevel(value);
  if (name === ALLOW_LEGACY_RELAYS_SETTING && value !== "0" && value !== "1") {
    throw new RangeError(`Cannot set "${name}" to "${value}": expected 1 (allow) or 0`);
  }
  if ((RELAY_SERVER_SETTINGS as readonly string[]).includes(name) && value !== "") {
    parseServerUrl(value);
  }
  if (name === RESIST_FAILURE_SETTING && !(/^\d{1,6}$/.test(value) && Number(value) <= 86_400)) {
    throw new RangeError(`Cannot set "${name}" to "${value}": expected seconds from 0 to 86400`);
  }
}

/** Signs a settings document. */
export async function signSettings(
  sitePrivateKey: CryptoKey,
  document: SettingsDocument,
): Promise<SignedDocument> {
  for (const [name, value] of Object.entries(document.settings)) checkSetting(name, value);
  checkUnset(document);
  return await signDocument(sitePrivateKey, "mle-settings", { ...document });
}

/** Checks a document's `unset` list: valid names, bounded, none also set by the document. */
function checkUnset(document: SettingsDocument): void {
  if (document.unset === undefined) return;
  if (!Array.isArray(document.unset) || document.unset.length > MAX_UNSET) {
    throw new RangeError(`Cannot remove settings: expected a list of at most ${MAX_UNSET} names`);
  }
  for (const name of document.unset) {
    if (typeof name !== "string") throw new RangeError("Cannot remove settings: bad name");
    checkSettingName(name);
    if (Object.hasOwn(document.settings, name)) {
      throw new RangeError(`Cannot both set and remove "${name}" in one document`);
    }
  }
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
  const body = await verifySettingsDocument(siteKey, document);
  if (body.computers !== "all" && !body.computers.includes(computerId)) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      `Cannot apply settings: not meant for computer ${computerId}`,
    );
  }
  return body;
}

/**
 * Verifies a settings document whoever it targets: the signature, the fields and every setting.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`.
 */
export async function verifySettingsDocument(
  siteKey: CryptoKey,
  document: unknown,
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
  try {
    checkUnset(body);
  } catch (cause) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      `Cannot apply settings: ${(cause as Error).message}`,
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

/** A setting's effective value and the signed document it came from. */
export interface DeployedSetting {
  /** The value, or null when the newest document naming the setting removed it. */
  value: string | null;
  /** The issuing document's time and id: what a later document must beat. */
  issuedAt: number;
  id: string;
}

/** The effective client settings, by name. */
export type DeployedSettings = Record<string, DeployedSetting>;

/** True when a document issued at `issuedAt` with `id` supersedes `setting` (ties: larger id). */
export function supersedes(
  issuedAt: number,
  id: string,
  setting: DeployedSetting | undefined,
): boolean {
  if (!setting) return true;
  return issuedAt > setting.issuedAt || (issuedAt === setting.issuedAt && id > setting.id);
}

/**
 * Folds verified settings documents into the effective settings: for each setting, the newest
 * document that names it wins, whatever order the documents arrive in. So a document a parent
 * withheld once still applies when it is served later, and an older document never overrides a
 * newer one for the same setting. Pure: returns a new object.
 *
 * @example
 * ```ts
 * import { mergeSettings } from "./settings.ts";
 * const later = { computers: [7], settings: { A: "2" }, issuedAt: 2, id: "b" };
 * const earlier = { computers: "all" as const, settings: { A: "1", B: "x" }, issuedAt: 1, id: "a" };
 * const merged = mergeSettings(mergeSettings({}, [later]), [earlier]);
 * console.log(merged.A.value, merged.B.value); // "2" "x"
 * ```
 */
export function mergeSettings(
  current: DeployedSettings,
  documents: readonly SettingsDocument[],
): DeployedSettings {
  const merged: DeployedSettings = { ...current };
  for (const document of documents) {
    const id = typeof document.id === "string" ? document.id : "";
    const named: (readonly [string, string | null])[] = [
      ...Object.entries(document.settings).map(([name, value]) => [name, String(value)] as const),
      ...(Array.isArray(document.unset) ? document.unset : []).map((name) => [name, null] as const),
    ];
    for (const [name, value] of named) {
      // Own properties only: a setting may be named like an Object method ("constructor").
      const held = Object.hasOwn(merged, name) ? merged[name] : undefined;
      if (supersedes(document.issuedAt, id, held)) {
        merged[name] = { value, issuedAt: document.issuedAt, id };
      }
    }
  }
  return merged;
}

/** The values in force: the merged settings without those a newer document removed. */
export function valuesInForce(deployed: DeployedSettings): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, setting] of Object.entries(deployed)) {
    if (setting.value !== null) values[name] = setting.value;
  }
  return values;
}

/**
 * Reads the body of a settings document as the server's store holds it (JSON text of the signed
 * document), without verifying the signature: only for documents the admin tool signed and
 * recorded. Null for anything that does not read as a settings document.
 */
export function readStoredSettings(documentText: string): SettingsDocument | null {
  try {
    const body = JSON.parse(decodeBase64UrlText(JSON.parse(documentText).payload));
    if (
      typeof body?.issuedAt !== "number" || typeof body.settings !== "object" ||
      body.settings === null
    ) {
      return null;
    }
    return body as SettingsDocument;
  } catch {
    return null;
  }
}
