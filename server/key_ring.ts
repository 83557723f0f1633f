/**
 * The server's MLE private keys and the memo of the content keys clients wrapped to them.
 *
 * Keys come from the store (which keys exist and their roles) and from the `Encryption Keys`
 * folder (the private halves). `refresh()` runs every few seconds, so a key the admin tool
 * deploys is picked up without a restart. Every key that is not retired stays loaded, so reports
 * encrypted to a previous key (in relay spools, offline clients' queues) still decrypt.
 *
 * The memo holds, per computer, the last content keys it used: a client reuses its content key for
 * many reports (see envelope/content_key_policy.ts), so the RSA private-key operation happens once
 * per content key, not once per report. Failures are never memoised. On a memo miss the sealed
 * vault (`content_key_vault.ts`) is asked before any RSA operation, so a restart does not cost one
 * RSA operation per client either.
 *
 * @module
 */

import { importAesKey, unwrapContentKey } from "../envelope/jwe.ts";
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

/** Content keys remembered per computer (the current one and the one before, during a switch). */
const SLOTS_PER_COMPUTER = 2;

interface MemoEntry {
  kid: string;
  encryptedKey: string;
  key: Promise<CryptoKey | null>;
}

/** Options of a key ring. */
export interface KeyRingOptions {
  store: Store;
  dataDir: string;
  log: Logger;
  /** Most computers whose content keys are remembered (least recently used are forgotten). */
  maxComputers?: number;
}

/** The loaded keys, the current certificate, and the content-key memo. */
export class KeyRing {
  readonly #store: Store;
  readonly #dataDir: string;
  readonly #log: Logger;
  readonly #maxComputers: number;
  #keys = new Map<string, LoadedEncryptionKey>();
  /** Keys of this site (not retired) whose file cannot be used here, with what is wrong. */
  #unusable = new Map<string, string>();
  #certificate: string | null = null;
  #memo = new Map<number, MemoEntry[]>();
  #rsaPrivateOps = 0;
  readonly #vault: ContentKeyVault;

  constructor(options: KeyRingOptions) {
    this.#store = options.store;
    this.#dataDir = options.dataDir;
    this.#log = options.log;
    this.#maxComputers = options.maxComputers ?? 200_000;
    this.#vault = new ContentKeyVault(options.store, {
      onError: (error) =>
        this.#log.warn("cannot keep sealed content keys", { cause: (error as Error).message }),
    });
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

  /** RSA private-key operations performed since start (the benchmark reads this). */
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
      );
    }
    return new IngestError(
      400,
      "ERR_UNKNOWN_KEY_ID",
      `Cannot decrypt ${what}: key ${kid} is not known here; fetch the current encryption certificate`,
    );
  }

  /**
   * The content key a computer wrapped to `kid`, from the memo or by one RSA unwrap.
   * Call only after the sender's signature verified and `has(kid)` is true.
   *
   * @returns the AES key, or null when the wrapped key does not unwrap (opaque failure).
   */
  contentKey(computerId: number, kid: string, encryptedKey: string): Promise<CryptoKey | null> {
    const slots = this.#memo.get(computerId);
    if (slots) {
      const hit = slots.find((entry) => entry.kid === kid && entry.encryptedKey === encryptedKey);
      if (hit) {
        this.#memo.delete(computerId);
        this.#memo.set(computerId, slots); // most recently used last
        return hit.key;
      }
    }
    const privateKey = this.#keys.get(kid)?.privateKey;
    if (!privateKey) return Promise.resolve(null);
    const key = this.#resolve(computerId, kid, encryptedKey, privateKey);
    const entry: MemoEntry = { kid, encryptedKey, key };
    const list = slots ?? [];
    list.unshift(entry);
    if (list.length > SLOTS_PER_COMPUTER) list.length = SLOTS_PER_COMPUTER;
    this.#memo.delete(computerId);
    this.#memo.set(computerId, list);
    if (this.#memo.size > this.#maxComputers) {
      this.#memo.delete(this.#memo.keys().next().value as number);
    }
    // A failed unwrap is forgotten, so it is never served from the memo.
    key.then((value) => {
      if (value === null) this.#forget(computerId, entry);
    });
    return key;
  }

  /** A memo miss: the sealed vault first, else the one RSA unwrap (then sealed into the vault). */
  async #resolve(
    computerId: number,
    kid: string,
    encryptedKey: string,
    privateKey: CryptoKey,
  ): Promise<CryptoKey | null> {
    const remembered = await this.#vault.open(computerId, kid, encryptedKey).catch(() => null);
    if (remembered) {
      const key = await importAesKey(remembered);
      remembered.fill(0);
      return key;
    }
    this.#rsaPrivateOps++;
    const raw = await unwrapContentKey(privateKey, encryptedKey);
    if (raw === null) return null;
    const key = await importAesKey(raw);
    try {
      this.#vault.remember(computerId, kid, encryptedKey, raw);
    } catch (error) {
      this.#log.warn("cannot seal a content key", { cause: (error as Error).message });
    } finally {
      raw.fill(0);
    }
    return key;
  }

  #forget(computerId: number, entry: MemoEntry): void {
    const list = this.#memo.get(computerId);
    if (!list) return;
    const index = list.indexOf(entry);
    if (index >= 0) list.splice(index, 1);
  }
}
