/**
 * The server's MLE state (Disabled, Pending, Enabled, Pending rotation), derived from the roles
 * of its keys: what `encryption status`, `generate`, `deploy` and `settings` report.
 *
 * @module
 */

import type { EncryptionKeyRecord } from "../store/mod.ts";

/** The server's MLE state, derived from its keys. */
export type EncryptionState = "Disabled" | "Pending" | "Enabled" | "Pending rotation";

/** Derives the state from the key roles: a current key means Enabled, a pending one Pending. */
export function encryptionState(keys: readonly EncryptionKeyRecord[]): EncryptionState {
  const current = keys.some((key) => key.role === "current");
  const pending = keys.some((key) => key.role === "pending");
  if (current) return pending ? "Pending rotation" : "Enabled";
  return pending ? "Pending" : "Disabled";
}
