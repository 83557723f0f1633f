/**
 * The registered computers' public keys, imported once and kept in memory, so that checking a
 * report's sender costs one map lookup and one signature verification.
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

  constructor(store: Store, max = 500_000) {
    this.#store = store;
    this.#max = max;
  }

  /** The computer with this id, or null when none is registered. */
  async get(id: number): Promise<KnownComputer | null> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const record = await this.#store.getComputer(id);
    if (!record) return null;
    const known = {
      record,
      publicKey: await importSigningPublicKey(decodeBase64Url(record.publicKey)),
    };
    this.#remember(known);
    return known;
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
    this.#cache.clear();
  }

  #inactive = new Set<number>();

  /**
   * Re-reads which computers are inactive (revoked, replaced, removed: changed by the admin tool
   * or another server) and forgets the cached entries whose state changed. Runs every few seconds.
   */
  async refresh(): Promise<void> {
    const inactive = new Set(await this.#store.listInactiveIds());
    for (const id of inactive) if (!this.#inactive.has(id)) this.#cache.delete(id);
    for (const id of this.#inactive) if (!inactive.has(id)) this.#cache.delete(id);
    this.#inactive = inactive;
  }

  #remember(known: KnownComputer): void {
    this.#cache.set(known.record.id, known);
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as number);
  }
}
