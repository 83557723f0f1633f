/**
 * The registered computers' public keys, imported once and kept in memory, so that checking a
 * report's sender costs one map lookup and one signature verification.
 *
 * Several servers may share the store: a computer registered through another one is looked up in
 * the store on a miss (never refused for being new here), and a change another process makes
 * (a revocation) evicts the entry, through `forget` as soon as the store tells of it (PostgreSQL)
 * and through `refresh` every few seconds (SQLite, and any notification lost).
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { importSigningPublicKey } from "../envelope/signature.ts";
import type { ComputerRecord, Store } from "../store/store.ts";

/** What the server needs to know of a sender. */
export interface KnownComputer {
  record: ComputerRecord;
  publicKey: CryptoKey;
}

/** A bounded cache of computers by id, backed by the store. */
export class ComputerDirectory {
  readonly #store: Store;
  readonly #max: number;
  #cache = new Map<number, KnownComputer>();
  /** Counts evictions, so a look-up that raced one does not cache what it read. */
  #evictions = 0;

  constructor(store: Store, max = 500_000) {
    this.#store = store;
    this.#max = max;
  }

  /** The computer with this id, or null when none is registered. */
  async get(id: number): Promise<KnownComputer | null> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const evictions = this.#evictions;
    const record = await this.#store.getComputer(id);
    if (!record) return null;
    const known = {
      record,
      publicKey: await importSigningPublicKey(decodeBase64Url(record.publicKey)),
    };
    // Evicted meanwhile: what was read may predate the change, so it is used once, not kept.
    if (evictions === this.#evictions) this.#remember(known);
    return known;
  }

  /** Forgets one computer, changed by another process: the next look-up reads the store. */
  forget(id: number): void {
    this.#evictions++;
    this.#cache.delete(id);
  }

  /** Records a computer just registered or changed. */
  async put(record: ComputerRecord): Promise<KnownComputer> {
    const known = {
      record,
      publicKey: await importSigningPublicKey(decodeBase64Url(record.publicKey)),
    };
    this.#remember(known);
    return known;
  }

  /** Forgets every cached computer (after the admin tool changed some, e.g. a revocation). */
  clear(): void {
    this.#evictions++;
    this.#cache.clear();
  }

  #inactive = new Set<number>();

  /**
   * Re-reads which computers are inactive (revoked, replaced, removed: changed by the admin tool
   * or another server) and forgets the cached entries whose state changed. Runs every few seconds.
   */
  async refresh(): Promise<void> {
    const inactive = new Set(await this.#store.listInactiveIds());
    for (const id of inactive) if (!this.#inactive.has(id)) this.forget(id);
    for (const id of this.#inactive) if (!inactive.has(id)) this.forget(id);
    this.#inactive = inactive;
  }

  #remember(known: KnownComputer): void {
    this.#cache.set(known.record.id, known);
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as number);
  }
}
