/**
 * The client's persistent state (`state.json` in its data dir), replaced atomically.
 *
 * @module
 */

import { replaceFileAtomically } from "../keystore/secure_file.ts";
import type { EncryptionLevel } from "../protocol/encryption_level.ts";

/** Where the effective encryption level came from. */
export type LevelSource = "deployed" | "command line" | "settings file" | "default";

/** What the client remembers between runs. */
export interface ClientState {
  version: 1;
  computerId: number | null;
  /** The public key the computer id was given for: a new key means a new registration. */
  registeredPublicKey: string | null;
  parent: string | null;
  /** Next report sequence number. */
  nextSeq: number;
  /** Level given at install time (command line or settings file), with its source. */
  installLevel: { level: EncryptionLevel; source: LevelSource } | null;
  /** Settings deployed by the site (signed documents already verified), and the newest's time. */
  deployedSettings: Record<string, string>;
  deployedSettingsIssuedAt: number;
  /** The last verified encryption certificate (signed JSON text), for status and rollback checks. */
  certificate: string | null;
  certificateIssuedAt: number;
  certificateKid: string | null;
  /** What the client did last time it tried. */
  encryptingNow: boolean;
  parentAcceptsEncrypted: boolean | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastFailure: { at: string; message: string } | null;
}

/** A fresh state. */
export function initialState(): ClientState {
  return {
    version: 1,
    computerId: null,
    registeredPublicKey: null,
    parent: null,
    nextSeq: 1,
    installLevel: null,
    deployedSettings: {},
    deployedSettingsIssuedAt: 0,
    certificate: null,
    certificateIssuedAt: 0,
    certificateKid: null,
    encryptingNow: false,
    parentAcceptsEncrypted: null,
    lastAttemptAt: null,
    lastSuccessAt: null,
    lastFailure: null,
  };
}

/** Reads the state file, or a fresh state when there is none. */
export async function readState(path: string): Promise<ClientState> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return initialState();
    throw error;
  }
  const parsed = JSON.parse(text);
  return { ...initialState(), ...parsed };
}

/** Writes the state file atomically. */
export async function writeState(path: string, state: ClientState): Promise<void> {
  await replaceFileAtomically(path, JSON.stringify(state, null, 2) + "\n");
}
