/**
 * The client's persistent state (`state.json` in its data dir), replaced atomically.
 *
 * @module
 */

import { replaceFileAtomically } from "../keystore/secure_file.ts";
import type { EncryptionLevel } from "../protocol/encryption_level.ts";
import type { DeployedSettings } from "../protocol/settings.ts";
import type { DocumentVersion } from "../protocol/document_version.ts";
import type { ParentListState } from "../protocol/parent_list.ts";

/** Where the effective encryption level came from. */
export type LevelSource = "deployed" | "command line" | "settings file" | "default";

/** What the client remembers between runs. */
export interface ClientState {
  version: 1;
  computerId: number | null;
  /** The public key the computer id was given for: a new key means a new registration. */
  registeredPublicKey: string | null;
  /** The parent in use (the last one that answered, else the first to try). */
  parent: string | null;
  /** The operator's parents (`--parent`, repeatable), in order; remembered. */
  parents: string[];
  /** Which parent answered last and which are failing (`protocol/parent_list.ts`). */
  parentChoice: ParentListState | null;
  /** Why the parent in use is the one in use, for `client status`. */
  parentWhy: string | null;
  /**
   * The KeyStorage folder in use (given once with `--storage-path`, then remembered): a run
   * without the flag uses it rather than making a second key, and so a second computer.
   */
  keyStoragePath: string | null;
  /** Next report sequence number. */
  nextSeq: number;
  /** Level given at install time (command line or settings file), with its source. */
  installLevel: { level: EncryptionLevel; source: LevelSource } | null;
  /** Settings deployed by the site (signed documents already verified): the effective values. */
  deployedSettings: Record<string, string>;
  /**
   * For each deployed setting, the signed document it came from (what a later one must beat). A
   * name here but not in `deployedSettings` was removed by that document (`settings unset`).
   */
  deployedSettingOrigins: Record<string, { issuedAt: number; id: string }>;
  /** The newest settings document's time (state files before per-setting origins kept only this). */
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
  /** Why reports and uploads are held now (encryption not possible), or null when they are not. */
  heldBecause: string | null;
  /**
   * When `mle-client run` starts its next cycle and why (`client/next_cycle_delay.ts`), or null
   * when no service is waiting.
   */
  nextCycle: { at: string; reason: string } | null;
  /** The newest rotation directive seen (verified): an older one is never acted on. */
  rotationDirectiveVersion: DocumentVersion | null;
  /** A rotation the site's directive asks of this computer, not started yet. */
  rotationDue: DirectedRotation | null;
  /**
   * The last directed rotation this machine started, recorded before it started: never started
   * again, whatever restarts or resends follow.
   */
  rotationStarted: (DirectedRotation & { at: string }) | null;
}

/** A rotation asked by the site's directive (`protocol/rotation_directive.ts`). */
export interface DirectedRotation {
  computerId: number;
  /** The serial of the directive that asked. */
  requestedIn: number;
  compromised: boolean;
}

/** A fresh state. */
export function initialState(): ClientState {
  return {
    version: 1,
    computerId: null,
    registeredPublicKey: null,
    parent: null,
    parents: [],
    parentChoice: null,
    parentWhy: null,
    keyStoragePath: null,
    nextSeq: 1,
    installLevel: null,
    deployedSettings: {},
    deployedSettingOrigins: {},
    deployedSettingsIssuedAt: 0,
    certificate: null,
    certificateIssuedAt: 0,
    certificateKid: null,
    encryptingNow: false,
    parentAcceptsEncrypted: null,
    lastAttemptAt: null,
    lastSuccessAt: null,
    lastFailure: null,
    heldBecause: null,
    nextCycle: null,
    rotationDirectiveVersion: null,
    rotationDue: null,
    rotationStarted: null,
  };
}

/**
 * The deployed settings with their origins. A value saved before origins were kept counts as
 * issued at the newest document then known: never overridden by an older one.
 */
export function deployedSettingsOf(state: ClientState): DeployedSettings {
  const deployed: DeployedSettings = {};
  for (const [name, value] of Object.entries(state.deployedSettings)) {
    const origin = Object.hasOwn(state.deployedSettingOrigins, name)
      ? state.deployedSettingOrigins[name]
      : { issuedAt: state.deployedSettingsIssuedAt, id: "" };
    deployed[name] = { value, issuedAt: origin.issuedAt, id: origin.id };
  }
  for (const [name, origin] of Object.entries(state.deployedSettingOrigins)) {
    if (!Object.hasOwn(deployed, name)) {
      deployed[name] = { value: null, issuedAt: origin.issuedAt, id: origin.id };
    }
  }
  return deployed;
}

/** Records the deployed settings (values and origins) in the state. */
export function setDeployedSettings(state: ClientState, deployed: DeployedSettings): void {
  state.deployedSettings = {};
  state.deployedSettingOrigins = {};
  for (const [name, setting] of Object.entries(deployed)) {
    if (setting.value !== null) state.deployedSettings[name] = setting.value;
    state.deployedSettingOrigins[name] = { issuedAt: setting.issuedAt, id: setting.id };
    state.deployedSettingsIssuedAt = Math.max(state.deployedSettingsIssuedAt, setting.issuedAt);
  }
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
  const state: ClientState = { ...initialState(), ...parsed };
  // A state from before lists of parents: its one parent is the operator's list.
  if (state.parents.length === 0 && state.parent !== null) state.parents = [state.parent];
  return state;
}

/** Writes the state file atomically. */
export async function writeState(path: string, state: ClientState): Promise<void> {
  await replaceFileAtomically(path, JSON.stringify(state, null, 2) + "\n");
}
