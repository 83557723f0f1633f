/**
 * The clients an authenticating relay admits: computer id → public key of every client that
 * completed the manual key exchange through it (or re-registered with a key it already knew, or
 * registered a new key with a hand-over signed by an admitted computer's key).
 * Kept in `<data-dir>/authorized-clients.json`, replaced atomically on every change, so that a
 * restart forgets nobody and a crash never leaves half a file.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { importSigningPublicKey } from "../envelope/signature.ts";
import { joinPath, readTextFileIfExists, replaceFileAtomically } from "../keystore/secure_file.ts";

/** File name of the authorized clients inside the relay's data dir. */
export const AUTHORIZED_CLIENTS_FILE = "authorized-clients.json";

/** How a client was admitted. */
export type AdmittedBy =
  | "shared password"
  | "one-time password"
  | "known key"
  | "trusted relay"
  /** A key rotation's hand-over signed by the key of a computer admitted here. */
  | "hand-over";

/** One admitted client. */
export interface AuthorizedClient {
  computerId: number;
  /** Raw Ed25519 public key, base64url (as in its registration). */
  publicKey: string;
  /** ISO time of the (last) admission. */
  authorizedAt: string;
  by: AdmittedBy;
}

interface FileContent {
  version: 1;
  clients: AuthorizedClient[];
}

/**
 * The persisted set of admitted clients.
 *
 * @example
 * ```ts ignore
 * import { AuthorizedClients } from "./authorized_clients.ts";
 * const clients = await AuthorizedClients.open("/var/opt/mle-relay");
 * await clients.put({ computerId: 12, publicKey, authorizedAt: new Date().toISOString(), by: "shared password" });
 * const key = await clients.publicKeyOf(12); // CryptoKey, or null when not admitted
 * ```
 */
export class AuthorizedClients {
  readonly #path: string;
  readonly #byId = new Map<number, AuthorizedClient>();
  readonly #byKey = new Map<string, AuthorizedClient>();
  /** Imported keys, so that each report costs one signature check and no import. */
  readonly #keys = new Map<number, Promise<CryptoKey>>();
  /** Writes in order, one at a time. */
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.#path = path;
  }

  /**
   * Loads the file of a data dir (none yet: nobody admitted).
   *
   * @throws {RangeError} When the file is not one this relay wrote, naming it.
   */
  static async open(dataDir: string): Promise<AuthorizedClients> {
    const clients = new AuthorizedClients(joinPath(dataDir, AUTHORIZED_CLIENTS_FILE));
    const text = await readTextFileIfExists(clients.#path);
    if (text === null) return clients;
    let content: FileContent;
    try {
      content = JSON.parse(text);
    } catch {
      throw new RangeError(`Cannot read "${clients.#path}": not JSON; restore it from a backup`);
    }
    if (content?.version !== 1 || !Array.isArray(content.clients)) {
      throw new RangeError(`Cannot read "${clients.#path}": unknown version or fields`);
    }
    for (const client of content.clients) {
      if (
        !Number.isSafeInteger(client?.computerId) || client.computerId < 1 ||
        typeof client.publicKey !== "string" || typeof client.authorizedAt !== "string"
      ) {
        throw new RangeError(`Cannot read "${clients.#path}": a client entry has bad fields`);
      }
      clients.#remember(client);
    }
    return clients;
  }

  /** How many clients are admitted. */
  get size(): number {
    return this.#byId.size;
  }

  /** The admitted client with this computer id. */
  get(computerId: number): AuthorizedClient | undefined {
    return this.#byId.get(computerId);
  }

  /** The admitted client with this public key. */
  byPublicKey(publicKey: string): AuthorizedClient | undefined {
    return this.#byKey.get(publicKey);
  }

  /** The public key of an admitted computer, imported once; null when it is not admitted. */
  async publicKeyOf(computerId: number): Promise<CryptoKey | null> {
    const client = this.#byId.get(computerId);
    if (!client) return null;
    let key = this.#keys.get(computerId);
    if (!key) {
      key = importSigningPublicKey(decodeBase64Url(client.publicKey));
      this.#keys.set(computerId, key);
      key.catch(() => this.#keys.delete(computerId));
    }
    return await key;
  }

  /**
   * Admits a client and writes the file before returning. A key has one computer id: an entry
   * with the same key and another id (the parent gave the key a new id) is replaced.
   */
  put(client: AuthorizedClient): Promise<void> {
    const write = this.#writing.then(async () => {
      const others = [...this.#byId.values()].filter((known) =>
        known.computerId !== client.computerId && known.publicKey !== client.publicKey
      );
      const content: FileContent = {
        version: 1,
        clients: [...others, { ...client }].sort((a, b) => a.computerId - b.computerId),
      };
      await replaceFileAtomically(this.#path, `${JSON.stringify(content, null, 1)}\n`, 0o600);
      // Only once it is on disk: a client is never admitted in memory and forgotten on restart.
      this.#remember(client);
    });
    this.#writing = write.catch(() => {});
    return write;
  }

  #remember(client: AuthorizedClient): void {
    const entry = { ...client };
    const sameKey = this.#byKey.get(entry.publicKey);
    if (sameKey && sameKey.computerId !== entry.computerId) {
      this.#byId.delete(sameKey.computerId);
      this.#keys.delete(sameKey.computerId);
    }
    const sameId = this.#byId.get(entry.computerId);
    if (sameId && sameId.publicKey !== entry.publicKey) {
      this.#byKey.delete(sameId.publicKey);
      this.#keys.delete(entry.computerId);
    }
    this.#byId.set(entry.computerId, entry);
    this.#byKey.set(entry.publicKey, entry);
  }
}
