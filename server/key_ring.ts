/**
 * The server's MLE private keys: the only place an RSA private-key operation happens.
 *
 * Keys come from the store (which keys exist and their roles) and from the `Encryption Keys`
 * folder (the private halves). `refresh()` runs every few seconds, so a key the admin tool
 * deploys is picked up without a restart. Every key that is not retired stays loaded, so reports
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
import { type LoadedEncryptionKey, readEncryptionKeyFile } from "../keystore/encryption_keys.ts";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
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
  #missing = new Set<string>();
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

  /** True when the private key `kid` is loaded: checked before any RSA operation. */
  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** Reloads the key set and the certificate from the store and the key folder. */
  async refresh(): Promise<void> {
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
        this.#missing.delete(kid);
        this.#log.info("encryption key loaded", { kid });
      } catch (error) {
        if (!this.#missing.has(kid)) {
          this.#missing.add(kid);
          this.#log.warn("encryption key not usable here", {
            kid,
            reason: (error as Error).message,
            hint: "copy it with: mle-admin encryption import",
          });
        }
      }
    }
    this.#certificate = await this.#store.getDocument("encryption-certificate");
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
