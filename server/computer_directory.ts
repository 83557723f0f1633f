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

  #remember(known: KnownComputer): void {
    this.#cache.set(known.record.id, known);
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as number);
  }
}
