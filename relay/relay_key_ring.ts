/**
 * A decrypting relay's MLE private keys: every `<key id>.pvk` in its own `Encryption Keys` folder
 * (installed with `mle-admin encryption import --from DIR --data-dir RELAY_DIR`), re-read every
 * few seconds so that a key copied in while the relay runs is used without a restart, and a key
 * removed from the folder is forgotten.
 *
 * Content keys are remembered per (computer id, key id, wrapped key): a client reuses its content
 * key for many reports, so the relay does one RSA private-key operation per content key. Failures
 * are never remembered. Everything stays in memory.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { importAesKey, unwrapContentKey } from "../envelope/jwe.ts";
import {
  encryptionKeysDir,
  type LoadedEncryptionKey,
  readEncryptionKeyFile,
} from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";

const KEY_FILE = /^([0-9a-f]{40})\.pvk$/;

/** Options of {@linkcode RelayKeyRing.open}. */
export interface RelayKeyRingOptions {
  dataDir: string;
  log: Logger;
  /** Most content keys remembered (least recently used are forgotten; default 50,000). */
  maxContentKeys?: number;
}

/**
 * The keys of a decrypting relay.
 *
 * @example
 * ```ts ignore
 * const keys = await RelayKeyRing.open({ dataDir: "/var/opt/mle-relay", log });
 * console.log(keys.kids);
 * ```
 */
export class RelayKeyRing {
  readonly #folder: string;
  readonly #log: Logger;
  readonly #maxContentKeys: number;
  #keys = new Map<string, LoadedEncryptionKey>();
  /** Files already reported as unusable, so that each is logged once. */
  #unusable = new Set<string>();
  #memo = new Map<string, Promise<CryptoKey | null>>();
  #rsaPrivateOps = 0;

  private constructor(options: RelayKeyRingOptions) {
    this.#folder = encryptionKeysDir(options.dataDir);
    this.#log = options.log;
    this.#maxContentKeys = options.maxContentKeys ?? 50_000;
  }

  /** Loads the keys of a relay data dir (none is fine: everything then passes through). */
  static async open(options: RelayKeyRingOptions): Promise<RelayKeyRing> {
    const ring = new RelayKeyRing(options);
    await ring.refresh();
    return ring;
  }

  /** Key ids loaded. */
  get kids(): string[] {
    return [...this.#keys.keys()];
  }

  /** RSA private-key operations since start. */
  get rsaPrivateOps(): number {
    return this.#rsaPrivateOps;
  }

  /** True when the private key `kid` is loaded. */
  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** Re-reads the folder: loads new key files, forgets removed ones. Never throws. */
  async refresh(): Promise<void> {
    let names: string[];
    try {
      names = (await Array.fromAsync(Deno.readDir(this.#folder)))
        .filter((entry) => entry.isFile || entry.isSymlink)
        .map((entry) => entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        this.#log.warn("cannot read the encryption keys folder", {
          folder: this.#folder,
          reason: (error as Error).message,
        });
      }
      names = [];
    }
    const present = new Set<string>();
    for (const name of names) {
      const match = KEY_FILE.exec(name);
      if (!match) continue;
      const kid = match[1];
      present.add(kid);
      if (this.#keys.has(kid)) continue;
      try {
        this.#keys.set(kid, await readEncryptionKeyFile(joinPath(this.#folder, name), kid));
        this.#unusable.delete(kid);
        this.#log.info("encryption key loaded", { kid });
      } catch (error) {
        if (!this.#unusable.has(kid)) {
          this.#unusable.add(kid);
          // The message names the file and the problem (e.g. its mode), never key material.
          this.#log.warn("encryption key not usable", { kid, reason: (error as Error).message });
        }
      }
    }
    for (const kid of this.#keys.keys()) {
      if (present.has(kid)) continue;
      this.#keys.delete(kid);
      for (const memoKey of this.#memo.keys()) {
        if (memoKey.includes(`:${kid}:`)) this.#memo.delete(memoKey);
      }
      this.#log.info("encryption key unloaded", { kid });
    }
  }

  /**
   * The content key a computer wrapped to `kid`, from the memo or by one RSA unwrap; null when
   * the key is not loaded or the wrapped key does not unwrap (opaque).
   */
  contentKey(computerId: number, kid: string, encryptedKey: string): Promise<CryptoKey | null> {
    const memoKey = `${computerId}:${kid}:${encryptedKey}`;
    const hit = this.#memo.get(memoKey);
    if (hit) {
      this.#memo.delete(memoKey);
      this.#memo.set(memoKey, hit);
      return hit;
    }
    const privateKey = this.#keys.get(kid)?.privateKey;
    if (!privateKey) return Promise.resolve(null);
    this.#rsaPrivateOps++;
    const key = unwrapContentKey(privateKey, encryptedKey).then(async (raw) => {
      if (raw === null) return null;
      try {
        return await importAesKey(raw);
      } finally {
        raw.fill(0);
      }
    });
    this.#memo.set(memoKey, key);
    if (this.#memo.size > this.#maxContentKeys) {
      this.#memo.delete(this.#memo.keys().next().value as string);
    }
    key.then((value) => {
      if (value === null && this.#memo.get(memoKey) === key) this.#memo.delete(memoKey);
    }, () => this.#memo.delete(memoKey));
    return key;
  }
}
