/**
 * A decrypting relay's own identity: an Ed25519 key pair in `<data-dir>/KeyStorage` (mode 0600 in
 * a 0700 folder, like a client's), registered with the parent like a client, so that the server
 * knows whose signature a bundle carries. The computer id the server gave is kept in
 * `<data-dir>/relay-identity.json` with the public key it belongs to.
 *
 * Registering gives the relay no right to send bundles: the server accepts bundles only from a
 * computer the administrator allowed (`mle-admin relays allow ID`, signed with the site key).
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { type ClientKey, loadOrCreateClientKey } from "../keystore/key_storage.ts";
import { joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { signRegistration } from "../protocol/registration.ts";
import { type ParentSource, Upstream } from "./upstream.ts";

/** File of the relay's registration inside its data dir. */
export const RELAY_IDENTITY_FILE = "relay-identity.json";
/** Folder of the relay's key pair inside its data dir. */
export const RELAY_KEY_STORAGE = "KeyStorage";

interface IdentityFile {
  version: 1;
  /** Random, made once: the host identity the relay registers with (never a credential). */
  instanceId: string;
  computerId: number | null;
  /** The public key the computer id belongs to. */
  publicKey: string | null;
}

/** What registering answered. */
export type RegistrationOutcome =
  | { ok: true; computerId: number }
  | { ok: false; status: number; code: string | null; message: string };

/**
 * The relay's key pair and computer id.
 *
 * @example
 * ```ts ignore
 * const identity = await RelayIdentity.open("/var/opt/mle-relay");
 * if (identity.computerId === null) await identity.register("http://server.example:52311", log);
 * ```
 */
export class RelayIdentity {
  readonly #path: string;
  readonly #key: ClientKey;
  #file: IdentityFile;

  private constructor(path: string, key: ClientKey, file: IdentityFile) {
    this.#path = path;
    this.#key = key;
    this.#file = file;
  }

  /** Loads (or makes) the key pair and reads the registration of a relay data dir. */
  static async open(dataDir: string): Promise<RelayIdentity> {
    const key = await loadOrCreateClientKey(joinPath(dataDir, RELAY_KEY_STORAGE));
    const path = joinPath(dataDir, RELAY_IDENTITY_FILE);
    let file: IdentityFile | null = null;
    try {
      const value = JSON.parse(await Deno.readTextFile(path));
      if (value?.version === 1 && typeof value.instanceId === "string") file = value;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) && !(error instanceof SyntaxError)) throw error;
    }
    file ??= { version: 1, instanceId: crypto.randomUUID(), computerId: null, publicKey: null };
    // A new key (KeyStorage deleted) needs a new registration.
    if (file.publicKey !== key.publicKeyText) file = { ...file, computerId: null, publicKey: null };
    const identity = new RelayIdentity(path, key, file);
    await identity.#save();
    return identity;
  }

  /** The computer id the parent gave this relay, or null before registration. */
  get computerId(): number | null {
    return this.#file.computerId;
  }

  /** The relay's signing key (non-extractable). */
  get privateKey(): CryptoKey {
    return this.#key.privateKey;
  }

  /** The relay's public key, raw Ed25519 in base64url. */
  get publicKeyText(): string {
    return this.#key.publicKeyText;
  }

  /** Forgets the computer id (the server no longer knows it): the next bundle registers again. */
  async forget(): Promise<void> {
    this.#file = { ...this.#file, computerId: null, publicKey: null };
    await this.#save();
  }

  /**
   * Registers the relay's key with the parent (the server), as a client does.
   *
   * @throws {ParentUnreachableError} When the parent does not answer.
   */
  async register(parentUrl: ParentSource, log: Logger): Promise<RegistrationOutcome> {
    const registration = await signRegistration(this.#key.privateKey, {
      publicKey: this.#key.publicKeyText,
      hostIdentity: `relay-instance:${this.#file.instanceId}`,
      hostname: relayHostname(),
      issuedAt: Date.now(),
    });
    const answer = await Upstream.of(parentUrl).fetchJson(API.register, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(registration),
      redirect: "manual",
      timeoutMs: 15_000,
      maxBytes: 64 * 1024,
    });
    const computerId = (answer.body as { computerId?: unknown } | null)?.computerId;
    if (answer.status !== 200 || !Number.isSafeInteger(computerId) || (computerId as number) < 1) {
      const message = (answer.body as { error?: { message?: unknown } } | null)?.error?.message;
      return {
        ok: false,
        status: answer.status,
        code: errorCodeOf(answer.body),
        message: typeof message === "string" ? message.slice(0, 300) : `HTTP ${answer.status}`,
      };
    }
    const changed = this.#file.computerId !== computerId;
    this.#file = {
      ...this.#file,
      computerId: computerId as number,
      publicKey: this.#key.publicKeyText,
    };
    await this.#save();
    if (changed) {
      log.info(
        `registered as computer ${computerId}; the server accepts its bundles once allowed: ` +
          `mle-admin relays allow ${computerId} --site-key FILE`,
        { computerId },
      );
    }
    return { ok: true, computerId: computerId as number };
  }

  async #save(): Promise<void> {
    await replaceFileAtomically(this.#path, JSON.stringify(this.#file, null, 2) + "\n", 0o600);
  }
}

/** The host name to register with; the relay has no system-information permission, so it may be unknown. */
function relayHostname(): string {
  try {
    return `relay ${Deno.hostname()}`.slice(0, 255);
  } catch {
    return "mle-relay";
  }
}
