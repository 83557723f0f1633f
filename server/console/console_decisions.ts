/**
 * Decisions an operator signs with the site key inside the browser, checked and recorded here: the
 * site key never reaches the server, which holds only the public half (from the masthead).
 *
 * - **Revocation list** (revoke computers): the browser signs a whole new list with the serial the
 *   store will allocate ({@linkcode revocationDraft}); it is verified exactly as relays verify it
 *   (`protocol/revocations.ts`), must name every computer and key the store already lists (a
 *   list may add, never take back), and must carry the next serial (else 409: reload and sign
 *   again, the rule `mle-admin` follows). The newly named computers are revoked, then the list is
 *   recorded through `Store.recordDocument`, as `mle-admin computers revoke` does.
 * - **Settings** (`_BESClient_Report_Encryption` and others, for chosen computers or all): verified
 *   as clients verify them (`protocol/settings.ts`), issued within {@linkcode MAX_DECISION_AGE_MS}
 *   of the server's clock, then stored as `mle-admin settings set` stores them.
 *
 * @module
 */

import { MleError } from "../../envelope/errors.ts";
import { readDocumentSerial } from "../../protocol/document_version.ts";
import { verifyRevocations } from "../../protocol/revocations.ts";
import { verifySettingsDocument } from "../../protocol/settings.ts";
import { revocationContent } from "../../store/revocation_content.ts";
import type { Store } from "../../store/mod.ts";
import { decodeBase64UrlText } from "../../envelope/base64url.ts";
import { DecisionError } from "../../store/computer_decisions.ts";

export { DecisionError };

/** How far from the server's clock a signed settings document's `issuedAt` may be. */
export const MAX_DECISION_AGE_MS = 10 * 60_000;
/** Most computers one settings decision may target. */
export const MAX_DECISION_TARGETS = 1000;

/** The body the browser signs for a new revocation list, with the serial the store allocates next. */
export interface RevocationDraft {
  revoked: number[];
  retiredKeys: string[];
  serial: number;
  issuedAt: number;
}

/** The serial and ids of the revocation list the server serves now (0 and none when none). */
async function servedRevocations(store: Store): Promise<{ serial: number; revoked: number[] }> {
  const text = await store.getDocument("revocations");
  if (text === null) return { serial: 0, revoked: [] };
  try {
    const body = JSON.parse(decodeBase64UrlText(JSON.parse(text).payload));
    const revoked = Array.isArray(body.revoked) ? body.revoked.filter(Number.isSafeInteger) : [];
    return { serial: readDocumentSerial(body) ?? 0, revoked };
  } catch {
    return { serial: 0, revoked: [] };
  }
}

/**
 * The revocation list to sign for revoking `add` (ids that must exist): what the store lists now
 * plus them, with the next serial.
 */
export async function revocationDraft(
  store: Store,
  add: readonly number[],
  now: number,
): Promise<RevocationDraft> {
  const content = await revocationContent(store);
  const revoked = [...new Set([...content.revoked, ...add])].sort((a, b) => a - b);
  return {
    revoked,
    retiredKeys: content.retiredKeys,
    serial: (await servedRevocations(store)).serial + 1,
    issuedAt: now,
  };
}

/**
 * Checks a revocation list signed in the browser and records it; returns the newly revoked ids.
 *
 * @throws {DecisionError} Not signed by the site key, takes something back, names an unknown
 * computer (400), or was signed for another serial or set of retired keys (409).
 */
export async function recordSignedRevocations(
  store: Store,
  siteKey: CryptoKey,
  document: unknown,
  now: number,
): Promise<{ serial: number; revoked: number[] }> {
  const list = await verified(() => verifyRevocations(siteKey, document));
  const content = await revocationContent(store);
  const served = await servedRevocations(store);
  const expected = served.serial + 1;
  if (list.serial !== expected) {
    throw new DecisionError(
      "ERR_DECISION_STALE",
      `Cannot record the revocation list: it carries serial ${list.serial ?? "none"}, the next ` +
        `is ${expected} (another decision was recorded meanwhile); reload the page and sign again`,
    );
  }
  const retired = [...(list.retiredKeys ?? [])].sort();
  if (retired.join() !== content.retiredKeys.join()) {
    throw new DecisionError(
      "ERR_DECISION_STALE",
      "Cannot record the revocation list: it names other retired keys than the site's; reload " +
        "the page and sign again",
    );
  }
  const listed = new Set(list.revoked);
  const missing = content.revoked.filter((id) => !listed.has(id));
  if (missing.length > 0) {
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      `Cannot record the revocation list: it leaves out revoked computer ${missing[0]}; a ` +
        "revocation is never taken back",
    );
  }
  // New to the served list: a computer revoked in the store by a confirm decision but not yet
  // published counts, so the console can publish it.
  const added = list.revoked.filter((id) => !served.revoked.includes(id));
  if (added.length === 0) {
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      "Cannot record the revocation list: it revokes nobody new; choose a computer to revoke",
    );
  }
  for (const id of added) {
    if ((await store.getComputer(id)) === null) {
      throw new DecisionError(
        "ERR_DECISION_INVALID",
        `Cannot revoke computer ${id}: no such computer`,
      );
    }
  }
  for (const id of added) {
    if (!content.revoked.includes(id)) await store.revokeComputer(id, now);
  }
  const recorded = await store.recordDocument("revocations", (serial) => {
    if (serial !== list.serial) {
      throw new DecisionError(
        "ERR_DECISION_STALE",
        `Cannot record the revocation list: serial ${serial} was due, not ${list.serial}; ` +
          "reload the page and sign again (the computers are revoked already)",
      );
    }
    return Promise.resolve(JSON.stringify(document));
  });
  return { serial: recorded.serial, revoked: added };
}

/**
 * Checks a settings document signed in the browser and stores it; returns the settings serial and
 * the targets.
 *
 * @throws {DecisionError} Not signed by the site key, a bad setting, an unknown computer, too many
 * targets, or issued too far from now (400).
 */
export async function recordSignedSettings(
  store: Store,
  siteKey: CryptoKey,
  document: unknown,
  now: number,
): Promise<{ serial: number; computers: "all" | number[]; settings: Record<string, string> }> {
  const body = await verified(() => verifySettingsDocument(siteKey, document));
  if (Math.abs(body.issuedAt - now) > MAX_DECISION_AGE_MS) {
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      "Cannot record the settings: they were signed more than 10 minutes from the server's " +
        "clock; check this computer's clock and sign again",
    );
  }
  if (typeof body.id !== "string" || body.id.length === 0 || body.id.length > 64) {
    throw new DecisionError("ERR_DECISION_INVALID", "Cannot record the settings: bad id");
  }
  if (Object.keys(body.settings).length === 0) {
    throw new DecisionError("ERR_DECISION_INVALID", "Cannot record the settings: none given");
  }
  let ids: number[] | null = null;
  if (body.computers !== "all") {
    ids = [...new Set(body.computers)];
    if (
      ids.length === 0 || ids.length > MAX_DECISION_TARGETS ||
      !ids.every((id) => Number.isSafeInteger(id) && id > 0)
    ) {
      throw new DecisionError(
        "ERR_DECISION_INVALID",
        `Cannot record the settings: expected 1 to ${MAX_DECISION_TARGETS} computer ids`,
      );
    }
    for (const id of ids) {
      if ((await store.getComputer(id)) === null) {
        throw new DecisionError(
          "ERR_DECISION_INVALID",
          `Cannot target computer ${id}: no such computer`,
        );
      }
    }
  }
  const serial = await store.addSettings(ids, JSON.stringify(document), now);
  return { serial, computers: ids ?? "all", settings: body.settings };
}

async function verified<T>(verify: () => Promise<T>): Promise<T> {
  try {
    return await verify();
  } catch (error) {
    if (error instanceof MleError) {
      throw new DecisionError(
        "ERR_DECISION_INVALID",
        `${error.message}; sign it with this site's license.pvk`,
      );
    }
    throw error;
  }
}
