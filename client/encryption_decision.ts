/**
 * What to do with a report, given the encryption level and what is available: the rules of
 * seed 001, as a pure function.
 *
 * @module
 */

import type { EncryptionLevel } from "../protocol/encryption_level.ts";

/** The decision for the next report. */
export type EncryptionDecision =
  | { action: "encrypt" }
  | { action: "clear" }
  | { action: "hold"; reason: string };

/** What the client knows when it decides. */
export interface EncryptionSituation {
  level: EncryptionLevel;
  /** A valid, site-signed certificate naming an enabled key. */
  hasCertificate: boolean;
  /** The parent said it accepts encrypted documents. */
  parentAcceptsEncrypted: boolean;
}

/**
 * Decides: `required` encrypts or holds; `optional` encrypts when it can, else sends clear text;
 * `none` never encrypts.
 *
 * @example
 * ```ts
 * import { decideEncryption } from "./encryption_decision.ts";
 * const d = decideEncryption({ level: "required", hasCertificate: false, parentAcceptsEncrypted: true });
 * console.log(d.action); // "hold"
 * ```
 */
export function decideEncryption(situation: EncryptionSituation): EncryptionDecision {
  const canEncrypt = situation.hasCertificate && situation.parentAcceptsEncrypted;
  switch (situation.level) {
    case "none":
      return { action: "clear" };
    case "optional":
      return canEncrypt ? { action: "encrypt" } : { action: "clear" };
    case "required":
      if (canEncrypt) return { action: "encrypt" };
      return {
        action: "hold",
        reason: !situation.hasCertificate
          ? "encryption is required but the site has no deployed encryption certificate"
          : "encryption is required but the parent relay does not accept encrypted reports",
      };
  }
}
