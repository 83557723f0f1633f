/**
 * The server's MLE private keys: the only place an RSA private-key operation happens.
 *
 * Keys come from the store (which keys exist and their roles) and from the `Encryption Keys`
 * folder (the private halves). `refresh()` runs every few seconds and when the store tells of a
 * change (`server/store_changes.ts`), so a key the admin tool deploys is picked up without a
 * restart. Every key that is not retired stays loaded, so reports
 * encrypted to a previous key (in relay spools, offline clients' queues) still decrypt. The
 * sealed vault (`content_key_vault.ts`) follows the loaded keys: its sealing keys derive from them.
 *
 * Nothing calls {@linkcode KeyRing.unwrap} but `content_key_source.ts`, which puts the memo, the
 * vault, the failure memo, the per-computer budget and the bounded queue in front of it.
 *
 * @module
 */

import { unwrapContentKey } from "../envelope/jwe.ts";
import { ContentKeyVault, type VaultStats } from "./content_key_vault.ts";
import {
  describeKeyFileProblem,
  encryptionKeysDir,
  type LoadedEncryptionKey,
  readEncryptionKeyFile,
} from "../keystore/encryption_keys.ts";
import { IngestError } from "./ingest_error.ts";
import { joinPath } from "../keystore/secure_file.ts";
import type { Logger } from "../cli/log.ts";
import type { Store } from "../store/store.ts";

/** Options of a key ring. */
export interface KeyRingOptions {
  store: Store;
  dataDir: string;
  log: Logger;
}

/** The loaded keys and the current certificate. */
export class KeyRing {
  readonly #store: Store;
  readonly #dataDir: string;
  readonly #log: Logger;
  #keys = new Map<string, LoadedEncryptionKey>();
  /** Keys of this site (not retired) whose file cannot be used here, with what is wrong. */
  #unusable = new Map<string, string>();
  #certificate: string | null = null;
  #rsaPrivateOps = 0;
  readonly #vault: ContentKeyVault;

  constructor(options: KeyRingOptions) {
    this.#store = options.store;
    this.#dataDir = options.dataDir;
    this.#log = options.log;
    this.#vault = new ContentKeyVault(options.store, {
      onError: (error) =>
        this.#log.warn("cannot keep sealed content keys", { cause: (error as Error).message }),
    });
  }

  /** The sealed vault of content keys, its sealing keys following the loaded keys. */
  get vault(): ContentKeyVault {
    return this.#vault;
  }

  /** The sealed vault's counts since start (the metrics show them). */
  get vaultStats(): VaultStats {
    return this.#vault.stats;
  }

  /** Writes the content keys waiting for the vault (call before closing the store). */
  async flush(): Promise<void> {
    await this.#vault.flush();
  }

  /** The signed encryption certificate to serve, as JSON text, or null when none was ever made. */
  get certificate(): string | null {
    return this.#certificate;
  }

  /** RSA private-key operations performed since start: reports, bundles, uploads (metrics). */
  get rsaPrivateOps(): number {
    return this.#rsaPrivateOps;
  }

  /** Key ids whose private key is loaded. */
  get kids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Key ids of this site (not retired) whose private key cannot be loaded here. */
  get unusableKids(): string[] {
    return [...this.#unusable.keys()];
  }

  /** True when the private key `kid` is loaded: checked before any RSA operation. */
  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /**
   * Reloads the key set and the certificate from the store and the key folder: every few
   * seconds, and at once when the store tells of a change (PostgreSQL). Calls made while one runs
   * share one more run after it, so that run sees the latest change and none overlap.
   */
  refresh(): Promise<void> {
    if (this.#nextRefresh) return this.#nextRefresh;
    const next = this.#refreshing.catch(() => {}).then(() => {
      this.#nextRefresh = null;
      return this.#reload();
    });
    this.#nextRefresh = next;
    this.#refreshing = next;
    return next;
  }

  #refreshing: Promise<void> = Promise.resolve();
  #nextRefresh: Promise<void> | null = null;

  async #reload(): Promise<void> {
    const records = await this.#store.listEncryptionKeys();
    const wanted = new Set(records.filter((r) => r.role !== "retired").map((r) => r.kid));
    for (const kid of this.#keys.keys()) {
      if (!wanted.has(kid)) {
        this.#keys.delete(kid);
        await this.#vault.removeServerKey(kid);
        this.#log.info("encryption key unloaded", { kid });
      }
    }
    for (const kid of wanted) {
      if (this.#keys.has(kid)) continue;
      const path = joinPath(encryptionKeysDir(this.#dataDir), `${kid}.pvk`);
      try {
        const loaded = await readEncryptionKeyFile(path, kid);
        this.#vault.addServerKey(kid, loaded.sealingSeed);
        this.#keys.set(kid, loaded);
        this.#unusable.delete(kid);
        this.#log.info("encryption key loaded", { kid });
      } catch (error) {
        const problem = describeKeyFileProblem(error, path);
        if (this.#unusable.get(kid) !== problem) {
          this.#unusable.set(kid, problem);
          this.#log.warn("encryption key not usable here", {
            kid,
            problem,
            hint: problem === "not here"
              ? `copy its file here with: mle-admin encryption import --from DIR`
              : "fix the file; the server retries every few seconds (mle-admin encryption status " +
                "shows the keys)",
          });
        }
      }
    }
    for (const kid of this.#unusable.keys()) {
      if (!wanted.has(kid)) this.#unusable.delete(kid);
    }
    this.#certificate = await this.#store.getDocument("encryption-certificate");
  }

  /**
   * The refusal of a message encrypted to `kid` when its private key is not loaded (`has(kid)` is
   * false): 503 `ERR_KEY_UNAVAILABLE` when `kid` is a key of this site whose file is unusable
   * here (the sender keeps the message and sends it later; the log and `mle-admin encryption
   * status` say what is wrong), else 400 `ERR_UNKNOWN_KEY_ID` (fetch the current certificate).
   * The file's path and mode stay out of the answer: they are the operator's business.
   */
  refusalForUnloadedKey(kid: string, what: string): IngestError {
    if (this.#unusable.has(kid)) {
      return new IngestError(
        503,
        "ERR_KEY_UNAVAILABLE",
        `Cannot decrypt ${what} now: this server cannot use its private key ${kid}; keep it ` +
          "queued and send it again later (the administrator sees why in mle-admin encryption " +
          "status)",
        60,
      );
    }
    return new IngestError(
      400,
      "ERR_UNKNOWN_KEY_ID",
      `Cannot decrypt ${what}: key ${kid} is not known here; fetch the current encryption certificate`,
    );
  }

  /**
   * Unwraps a content key wrapped to `kid`: one RSA private-key operation, counted.
   *
   * @returns its 32 raw bytes (the caller zeroes them), or null when `kid` is not loaded or the
   * wrapped key does not unwrap (opaque failure).
   */
  async unwrap(kid: string, encryptedKey: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const privateKey = this.#keys.get(kid)?.privateKey;
    if (!privateKey) return null;
    this.#rsaPrivateOps++;
    return await unwrapContentKey(privateKey, encryptedKey);
  }
}
