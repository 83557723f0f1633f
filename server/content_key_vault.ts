/**
 * The content keys the server unwrapped, remembered across restarts, sealed at rest.
 *
 * A client reuses one content key for many reports (`envelope/content_key_policy.ts`), and the key
 * ring memoises its unwrap in memory. Without this vault a restart would forget every memo and
 * cost one RSA private-key operation per client on its next report: at a million endpoints, hours
 * of CPU, the restart storm comparable systems suffer. With it, the first report after a restart
 * costs one SQLite lookup and one AES-GCM open instead.
 *
 * What is stored, per computer and server key (`sealed_content_keys`): the SHA-256 of the wrapped
 * key the client sent, and the content key sealed with AES-256-GCM (random 96-bit IV) under a key
 * derived with HKDF-SHA-256 from the MLE private key it was wrapped to (its `sealingSeed`, the
 * SHA-256 of its PKCS#8). So:
 * - a content key is never on disk in clear, and whoever reads the database without the MLE
 *   private key learns nothing (with it, they could unwrap the content key from a captured report
 *   anyway: the vault gives nobody anything the private key does not);
 * - the additional data binds the computer id, the key id and the wrapped key's hash, so an entry
 *   moved to another computer, key or wrapped key does not open: it is a miss;
 * - every mismatch or failure is a miss, and a miss only costs the RSA operation the memo would
 *   have cost anyway. The vault can make the server faster, never accept what it would refuse.
 *
 * Entries are written in batches (one transaction) shortly after the unwrap, and on shutdown.
 * When a server key is unloaded (retired), its entries are deleted.
 *
 * @module
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { decodeBase64Url } from "../envelope/base64url.ts";
import type { SealedContentKeyRecord, Store } from "../store/store.ts";

const SALT = new TextEncoder().encode("mle-server content-key vault v1");
const IV_BYTES = 12;
const KEY_BYTES = 32;
const TAG_BYTES = 16;
/** IV, sealed 32-byte key and tag. */
export const SEALED_CONTENT_KEY_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;

/** What identifies a wrapped content key: who sent it, to which server key, and its bytes. */
export interface WrappedKeyRef {
  computerId: number;
  kid: string;
  /** The wrapped key as sent, base64url. */
  encryptedKey: string;
}

/** Counts since start, for the metrics. */
export interface VaultStats {
  /** Content keys opened from the vault instead of an RSA operation. */
  hits: number;
  /** Lookups that found nothing usable. */
  misses: number;
  /** Entries written. */
  stored: number;
}

/** Options of a vault. */
export interface ContentKeyVaultOptions {
  /** How long new entries wait to be written together (default 200 ms). */
  flushDelayMs?: number;
  /** Called when a batch cannot be written (the entries are dropped: they are only a cache). */
  onError?: (error: unknown) => void;
}

/** The additional data of an entry: what it belongs to. */
function additionalData(
  computerId: number,
  kid: string,
  wrappedKeyHash: string,
): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`mle-content-key-v1|${computerId}|${kid}|${wrappedKeyHash}`);
}

function wrappedKeyHashOf(encryptedKey: string): string | null {
  try {
    return createHash("sha256").update(decodeBase64Url(encryptedKey)).digest("hex");
  } catch {
    return null;
  }
}

/**
 * Derives the vault's sealing key for one MLE private key from its sealing seed:
 * HKDF-SHA-256, salt "mle-server content-key vault v1", info "kid <key id>", 32 bytes.
 *
 * The vault uses node:crypto (synchronous): Web Crypto's round trips cost more than these small
 * operations, and the first report of every client after a restart comes through here.
 *
 * @example
 * ```ts
 * import { deriveVaultKey } from "./content_key_vault.ts";
 * const key = deriveVaultKey(new Uint8Array(32), "0".repeat(40));
 * console.log(key.symmetricKeySize); // 32
 * ```
 */
export function deriveVaultKey(sealingSeed: Uint8Array, kid: string): KeyObject {
  const derived = new Uint8Array(hkdfSync("sha256", sealingSeed, SALT, `kid ${kid}`, KEY_BYTES));
  const key = createSecretKey(derived);
  derived.fill(0);
  return key;
}

/**
 * Seals content keys for the store and opens them again.
 *
 * @example
 * ```ts ignore
 * const vault = new ContentKeyVault(store);
 * await vault.addServerKey(kid, loaded.sealingSeed);
 * vault.remember(12, kid, encryptedKey, rawContentKey);
 * await vault.flush();
 * const raw = await vault.open(12, kid, encryptedKey); // the same 32 bytes, or null
 * ```
 */
export class ContentKeyVault {
  readonly #store: Store;
  readonly #flushDelayMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #keys = new Map<string, KeyObject>();
  #pending = new Map<string, SealedContentKeyRecord>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #stats: VaultStats = { hits: 0, misses: 0, stored: 0 };

  constructor(store: Store, options: ContentKeyVaultOptions = {}) {
    this.#store = store;
    this.#flushDelayMs = options.flushDelayMs ?? 200;
    this.#onError = options.onError ?? (() => {});
  }

  /** Counts since start. */
  get stats(): VaultStats {
    return { ...this.#stats };
  }

  /** Makes the vault usable for content keys wrapped to `kid` (call when the key loads). */
  addServerKey(kid: string, sealingSeed: Uint8Array): void {
    this.#keys.set(kid, deriveVaultKey(sealingSeed, kid));
  }

  /** Forgets a server key and deletes its entries (call when the key is unloaded). */
  async removeServerKey(kid: string): Promise<void> {
    this.#keys.delete(kid);
    for (const [slot, record] of this.#pending) if (record.kid === kid) this.#pending.delete(slot);
    await this.#store.deleteSealedContentKeys(kid);
  }

  /**
   * The content key remembered for exactly this computer, server key and wrapped key.
   *
   * @returns its 32 raw bytes (the caller zeroes them after use), or null: nothing stored, another
   * wrapped key, a server key not loaded, or an entry that does not open.
   */
  async open(
    computerId: number,
    kid: string,
    encryptedKey: string,
  ): Promise<Uint8Array<ArrayBuffer> | null> {
    const sealingKey = this.#keys.get(kid);
    if (!sealingKey) return this.#miss();
    const hash = wrappedKeyHashOf(encryptedKey);
    if (hash === null) return this.#miss();
    const slot = `${computerId}|${kid}`;
    const record = this.#pending.get(slot) ??
      await this.#store.getSealedContentKey(computerId, kid);
    if (!record || record.wrappedKeyHash !== hash) return this.#miss();
    const raw = this.#unseal(sealingKey, computerId, kid, hash, record.sealed);
    if (raw === null) return this.#miss();
    this.#stats.hits++;
    return raw;
  }

  /**
   * Seals a key that is kept elsewhere than the vault's table (an upload's file key, kept beside
   * its partial file), exactly as the vault seals content keys.
   *
   * @returns the sealed bytes, or null when `kid` is not loaded or the key is not 32 bytes.
   */
  seal(ref: WrappedKeyRef, raw: Uint8Array): Uint8Array<ArrayBuffer> | null {
    const { computerId, kid, encryptedKey } = ref;
    const sealingKey = this.#keys.get(kid);
    const hash = wrappedKeyHashOf(encryptedKey);
    if (!sealingKey || hash === null || raw.length !== KEY_BYTES) return null;
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const cipher = createCipheriv("aes-256-gcm", sealingKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(computerId, kid, hash));
    const head = cipher.update(raw);
    const tail = cipher.final();
    const sealed = new Uint8Array(SEALED_CONTENT_KEY_BYTES);
    sealed.set(iv);
    sealed.set(head, IV_BYTES);
    sealed.set(tail, IV_BYTES + head.length);
    sealed.set(cipher.getAuthTag(), IV_BYTES + KEY_BYTES);
    return sealed;
  }

  /**
   * Opens what {@linkcode seal} made for exactly this computer, server key and wrapped key.
   *
   * @returns the 32 raw bytes (the caller zeroes them), or null when it does not open.
   */
  unseal(ref: WrappedKeyRef, sealed: Uint8Array): Uint8Array<ArrayBuffer> | null {
    const { computerId, kid, encryptedKey } = ref;
    const sealingKey = this.#keys.get(kid);
    const hash = wrappedKeyHashOf(encryptedKey);
    if (!sealingKey || hash === null) return null;
    return this.#unseal(sealingKey, computerId, kid, hash, sealed);
  }

  #unseal(
    sealingKey: KeyObject,
    computerId: number,
    kid: string,
    hash: string,
    sealed: Uint8Array,
  ): Uint8Array<ArrayBuffer> | null {
    if (sealed.length !== SEALED_CONTENT_KEY_BYTES) return null;
    try {
      const decipher = createDecipheriv("aes-256-gcm", sealingKey, sealed.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(additionalData(computerId, kid, hash));
      decipher.setAuthTag(sealed.subarray(IV_BYTES + KEY_BYTES));
      const head = decipher.update(sealed.subarray(IV_BYTES, IV_BYTES + KEY_BYTES));
      const tail = decipher.final(); // throws when the entry does not open
      if (head.length + tail.length !== KEY_BYTES) return null;
      const raw = new Uint8Array(KEY_BYTES);
      raw.set(head);
      raw.set(tail, head.length);
      head.fill(0);
      return raw;
    } catch {
      return null;
    }
  }

  /**
   * Seals a content key just unwrapped by RSA and queues it for the store (replacing what this
   * computer had for this server key). Does not keep `raw`.
   */
  remember(
    computerId: number,
    kid: string,
    encryptedKey: string,
    raw: Uint8Array,
    now = Date.now(),
  ): void {
    const sealed = this.seal({ computerId, kid, encryptedKey }, raw);
    const hash = wrappedKeyHashOf(encryptedKey);
    if (sealed === null || hash === null) return;
    const record: SealedContentKeyRecord = {
      computerId,
      kid,
      wrappedKeyHash: hash,
      sealed,
      createdAt: now,
    };
    this.#pending.set(`${computerId}|${kid}`, record);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(this.#onError);
    }, this.#flushDelayMs);
  }

  /** Writes the queued entries now, in one transaction. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    const previous = this.#flushing;
    this.#flushing = (async () => {
      await previous.catch(() => {});
      if (batch.length === 0) return;
      await this.#store.putSealedContentKeys(batch);
      this.#stats.stored += batch.length;
    })();
    await this.#flushing;
  }

  #miss(): null {
    this.#stats.misses++;
    return null;
  }
}
