/**
 * What to do with a report or upload, given the encryption level and what is available: the rules
 * of seed 001, hardened so that no unsigned answer lowers a client's protection, as a pure
 * function.
 *
 * What a parent says about itself (capabilities, a 415) is unsigned: anyone on the path can forge
 * it. What the site signed (the certificate, settings) is not. So once the client holds the
 * site's certificate naming an enabled key, only a signed document can let it send clear text.
 *
 * @module
 */

import type { EncryptionLevel } from "../protocol/encryption_level.ts";
import { ALLOW_LEGACY_RELAYS_SETTING } from "../protocol/settings.ts";

/**
 * Why a report is held:
 * - `no-certificate`: the site never deployed a key (or disabled it) and the level is required;
 * - `parent-refuses-encryption`: the site enabled encryption but this parent does not take
 *   encrypted reports; another parent may, so the client can try its next one.
 */
export type HoldCause = "no-certificate" | "parent-refuses-encryption";

/** The decision for the next report or upload. */
export type EncryptionDecision =
  | { action: "encrypt" }
  | { action: "clear" }
  | { action: "hold"; cause: HoldCause; reason: string; hint: string };

/** What the client knows when it decides. */
export interface EncryptionSituation {
  level: EncryptionLevel;
  /** The newest valid, site-signed certificate it holds names an enabled key. */
  hasCertificate: boolean;
  /** The parent said it accepts encrypted documents (unsigned: an attacker can say otherwise). */
  parentAcceptsEncrypted: boolean;
  /** A signed setting allows clear text through parents that cannot take encrypted reports. */
  legacyRelaysAllowed: boolean;
}

/**
 * Decides: `none` never encrypts; `required` encrypts or holds; `optional` encrypts when it can,
 * sends clear text when the site has no enabled certificate (never had one, or its newest says
 * disabled), and otherwise holds unless the site allowed legacy relays in a signed setting.
 *
 * @example
 * ```ts
 * import { decideEncryption } from "./encryption_decision.ts";
 * const d = decideEncryption({
 *   level: "optional",
 *   hasCertificate: true,
 *   parentAcceptsEncrypted: false,
 *   legacyRelaysAllowed: false,
 * });
 * console.log(d.action); // "hold"
 * ```
 */
export function decideEncryption(situation: EncryptionSituation): EncryptionDecision {
  if (situation.level === "none") return { action: "clear" };
  if (situation.hasCertificate && situation.parentAcceptsEncrypted) return { action: "encrypt" };
  if (!situation.hasCertificate) {
    if (situation.level === "optional") return { action: "clear" };
    return {
      action: "hold",
      cause: "no-certificate",
      reason: "encryption is required but the site has no deployed encryption certificate",
      hint: "deploy an encryption key (mle-admin -reportencryption -deploynow=yes …)",
    };
  }
  if (situation.level === "optional" && situation.legacyRelaysAllowed) return { action: "clear" };
  return {
    action: "hold",
    cause: "parent-refuses-encryption",
    reason: situation.level === "required"
      ? "encryption is required but the parent relay does not accept encrypted reports"
      : "the parent does not take encrypted reports although the site enabled encryption",
    hint: situation.level === "required"
      ? "report through a relay that accepts encrypted reports"
      : "report through a relay that accepts encrypted reports, or let the site allow clear " +
        `text through such relays: mle-admin settings set ${ALLOW_LEGACY_RELAYS_SETTING}=1 --all`,
  };
}
