/**
 * The one way the server obtains a content key a sender wrapped to one of its RSA keys, for
 * reports, bundles and uploads alike, in the order that keeps it cheap:
 *
 * 1. the memo: per computer, the last content keys it used (a client reuses its content key for
 *    many reports, `envelope/content_key_policy.ts`), so most reports cost no key work at all;
 * 2. the sealed vault (`content_key_vault.ts`): after a restart, one SQLite lookup and one AES-GCM
 *    open instead of RSA;
 * 3. the failure memo: a wrapped key that did not unwrap for this computer and key id lately is
 *    refused again without RSA (the same opaque failure);
 * 4. the computer's budget of new keys (`content_key_budget.ts`): past it, 429
 *    `ERR_TOO_MANY_NEW_KEYS` with `Retry-After`;
 * 5. the bounded queue of RSA work (`rsa_work_queue.ts`): when full, 503 with `Retry-After`;
 * 6. the one RSA unwrap (`key_ring.ts`, which counts it).
 *
 * Call only after the sender's signature verified and the key id is known to be loaded: the
 * budget is charged to the computer that signed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { importAesKey } from "../envelope/jwe.ts";
import { ContentKeyBudget, type ContentKeyBudgetRate } from "./content_key_budget.ts";
import { IngestError } from "./ingest_error.ts";
import type { KeyRing } from "./key_ring.ts";
import type { WrappedKeyRef } from "./content_key_vault.ts";
import { RsaWorkQueue } from "./rsa_work_queue.ts";

/** Content keys remembered per computer (the current one and the one before, during a switch). */
const SLOTS_PER_COMPUTER = 2;

/** Counts since start, for the metrics. */
export interface ContentKeySourceStats {
  /** Content keys found in the memo: no vault look-up, no RSA operation. */
  memoHits: number;
  /** Wrapped keys refused again without RSA because they failed lately. */
  failuresRemembered: number;
  /** New keys refused because their computer was past its budget (429). */
  refusedOverBudget: number;
  /** New keys refused because the RSA queue was full (503). */
  refusedBusy: number;
}

/** Options of the source. */
export interface ContentKeySourceOptions {
  keys: KeyRing;
  /** New content keys per computer (default 10 an hour). */
  budget?: ContentKeyBudgetRate;
  /** The bounded RSA queue (default: one per CPU running, 256 waiting). */
  queue?: RsaWorkQueue;
  /** How long a failed wrapped key is remembered, in milliseconds (default 1 h). */
  failureMemoMs?: number;
  /** Most failed wrapped keys remembered (default 65,536). */
  maxFailures?: number;
  /** Most computers whose content keys are memoised (least recently used are forgotten). */
  maxComputers?: number;
  now?: () => number;
}

interface MemoEntry {
  kid: string;
  encryptedKey: string;
  key: Promise<CryptoKey | null>;
}

/**
 * The content-key source of the server.
 *
 * @example
 * ```ts ignore
 * const contentKeys = new ContentKeySource({ keys, budget: parseContentKeyBudget("10/h") });
 * const key = await contentKeys.contentKey({ computerId: 12, kid, encryptedKey });
 * const plaintext = await decryptJwe(message, key); // null gives the opaque failure
 * ```
 */
export class ContentKeySource {
  readonly #keys: KeyRing;
  readonly #budget: ContentKeyBudget;
  readonly #queue: RsaWorkQueue;
  readonly #failureMemoMs: number;
  readonly #maxFailures: number;
  readonly #maxComputers: number;
  readonly #now: () => number;
  readonly #memo = new Map<number, MemoEntry[]>();
  /** Failed wrapped keys: "computer|kid|hash" → until when they are refused without RSA. */
  readonly #failures = new Map<string, number>();
  readonly #stats: ContentKeySourceStats = {
    memoHits: 0,
    failuresRemembered: 0,
    refusedOverBudget: 0,
    refusedBusy: 0,
  };

  constructor(options: ContentKeySourceOptions) {
    this.#keys = options.keys;
    this.#budget = new ContentKeyBudget(options.budget ?? { keys: 10, windowMs: 3_600_000 });
    this.#queue = options.queue ?? new RsaWorkQueue();
    this.#failureMemoMs = options.failureMemoMs ?? 3_600_000;
    this.#maxFailures = options.maxFailures ?? 65_536;
    this.#maxComputers = options.maxComputers ?? 200_000;
    this.#now = options.now ?? Date.now;
  }

  /** Counts since start. */
  get stats(): ContentKeySourceStats {
    return { ...this.#stats, refusedBusy: this.#queue.refused };
  }

  /**
   * Refuses a key id this server has not loaded, before any RSA operation.
   *
   * @throws {IngestError} 400 `ERR_UNKNOWN_KEY_ID`, or 503 `ERR_KEY_UNAVAILABLE` when its file is
   * unusable here (`what` names what could not be decrypted).
   */
  requireLoaded(kid: string, what: string): void {
    if (this.#keys.has(kid)) return;
    throw this.#keys.refusalForUnloadedKey(kid, what);
  }

  /**
   * The content key of a report or bundle: from the memo, the vault, or one guarded unwrap (then
   * sealed into the vault).
   *
   * @returns the AES key, or null when the wrapped key does not unwrap (opaque failure).
   * @throws {IngestError} 429 `ERR_TOO_MANY_NEW_KEYS` or 503 `ERR_RETRY_LATER`, with
   * `Retry-After`: nothing was decrypted, the sender keeps the message and retries.
   */
  contentKey(ref: WrappedKeyRef): Promise<CryptoKey | null> {
    const { computerId, kid, encryptedKey } = ref;
    const slots = this.#memo.get(computerId);
    const hit = slots?.find((entry) => entry.kid === kid && entry.encryptedKey === encryptedKey);
    if (slots && hit) {
      this.#stats.memoHits++;
      this.#memo.delete(computerId);
      this.#memo.set(computerId, slots); // most recently used last
      return hit.key;
    }
    const key = this.#resolve(ref);
    const entry: MemoEntry = { kid, encryptedKey, key };
    const list = slots ?? [];
    list.unshift(entry);
    if (list.length > SLOTS_PER_COMPUTER) list.length = SLOTS_PER_COMPUTER;
    this.#memo.delete(computerId);
    this.#memo.set(computerId, list);
    if (this.#memo.size > this.#maxComputers) {
      this.#memo.delete(this.#memo.keys().next().value as number);
    }
    // A failure or a refusal is forgotten here, so it is never served from the memo.
    key.then((value) => {
      if (value === null) this.#forget(computerId, entry);
    }, () => this.#forget(computerId, entry));
    return key;
  }

  /**
   * An upload's file key: one guarded unwrap (no memo, no vault: the upload keeps it sealed with
   * {@linkcode sealFileKey} beside its data).
   *
   * @returns its 32 raw bytes (the caller zeroes them), or null when it does not unwrap.
   * @throws {IngestError} 429 or 503 with `Retry-After`, as {@linkcode contentKey}.
   */
  async fileKey(ref: WrappedKeyRef): Promise<Uint8Array<ArrayBuffer> | null> {
    return await this.#unwrap(ref);
  }

  /** Seals an upload's file key as the vault seals content keys (null when `kid` is unloaded). */
  sealFileKey(ref: WrappedKeyRef, raw: Uint8Array): Uint8Array<ArrayBuffer> | null {
    return this.#keys.vault.seal(ref, raw);
  }

  /** Opens what {@linkcode sealFileKey} made for exactly this reference, or null. */
  openFileKey(ref: WrappedKeyRef, sealed: Uint8Array): Uint8Array<ArrayBuffer> | null {
    return this.#keys.vault.unseal(ref, sealed);
  }

  /** A memo miss: the sealed vault first, else the guarded unwrap (then sealed into the vault). */
  async #resolve(ref: WrappedKeyRef): Promise<CryptoKey | null> {
    const { computerId, kid, encryptedKey } = ref;
    const vault = this.#keys.vault;
    const remembered = await vault.open(computerId, kid, encryptedKey).catch(() => null);
    if (remembered) {
      const key = await importAesKey(remembered);
      remembered.fill(0);
      return key;
    }
    const raw = await this.#unwrap(ref);
    if (raw === null) return null;
    try {
      vault.remember(computerId, kid, encryptedKey, raw);
      return await importAesKey(raw);
    } finally {
      raw.fill(0);
    }
  }

  /** Failure memo, budget, queue, then the one RSA unwrap; a failure is remembered. */
  async #unwrap(ref: WrappedKeyRef): Promise<Uint8Array<ArrayBuffer> | null> {
    const now = this.#now();
    const failure = failureKey(ref);
    const until = this.#failures.get(failure);
    if (until !== undefined) {
      if (until > now) {
        this.#stats.failuresRemembered++;
        return null;
      }
      this.#failures.delete(failure);
    }
    this.#queue.ensureRoom(); // before the budget is charged: a busy server is not the sender's doing
    const answer = this.#budget.take(ref.computerId, now);
    if (!answer.granted) {
      this.#stats.refusedOverBudget++;
      throw new IngestError(
        429,
        "ERR_TOO_MANY_NEW_KEYS",
        `Cannot decrypt: computer ${ref.computerId} sent too many new content keys lately; ` +
          `reuse the content key already sent, or retry after ${answer.retryAfterSeconds} s`,
        answer.retryAfterSeconds,
      );
    }
    const raw = await this.#queue.run(() => this.#keys.unwrap(ref.kid, ref.encryptedKey));
    if (raw === null) this.#rememberFailure(failure, now);
    return raw;
  }

  #rememberFailure(failure: string, now: number): void {
    this.#failures.delete(failure);
    this.#failures.set(failure, now + this.#failureMemoMs);
    while (this.#failures.size > this.#maxFailures) {
      this.#failures.delete(this.#failures.keys().next().value as string);
    }
  }

  #forget(computerId: number, entry: MemoEntry): void {
    const list = this.#memo.get(computerId);
    if (!list) return;
    const index = list.indexOf(entry);
    if (index >= 0) list.splice(index, 1);
  }
}

/** The failure memo's key: node:crypto, synchronous, cheaper than a Web Crypto round trip. */
function failureKey(ref: WrappedKeyRef): string {
  const hash = createHash("sha256").update(ref.encryptedKey).digest("hex");
  return `${ref.computerId}|${ref.kid}|${hash}`;
}
