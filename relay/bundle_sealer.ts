/**
 * Seals a decrypting relay's bundle: the clients' signed reports, each gzipped on its own
 * (`protocol/report_bundle.ts`), encrypted to the server's current key under a content key
 * reused within `envelope/content_key_policy.ts`'s bounds (in memory only), and signed once with
 * the relay's key. The plaintext and the reports are wiped once sealed.
 *
 * @module
 */

import { mayReuseContentKey } from "../envelope/content_key_policy.ts";
import { type ContentKey, createContentKey } from "../envelope/jwe.ts";
import { type BundleEntry, encodeBundle, sealBundle } from "../protocol/report_bundle.ts";
import type { RelayIdentity } from "./relay_identity.ts";
import type { BundleRecipient } from "./server_certificate.ts";

/**
 * Seals bundles for one relay identity.
 *
 * @example
 * ```ts ignore
 * const sealer = new BundleSealer(identity);
 * const body = await sealer.seal(entries, recipient, crypto.randomUUID());
 * ```
 */
export class BundleSealer {
  readonly #identity: Pick<RelayIdentity, "computerId" | "privateKey">;
  #contentKey: { key: ContentKey; createdAt: number; messages: number } | null = null;

  constructor(identity: Pick<RelayIdentity, "computerId" | "privateKey">) {
    this.#identity = identity;
  }

  /**
   * The sealed bundle message as JSON; the entries' payloads are wiped, sealed or not.
   *
   * @throws {TypeError} When the relay has no computer id yet.
   */
  async seal(entries: BundleEntry[], recipient: BundleRecipient, bid: string): Promise<string> {
    try {
      const cid = this.#identity.computerId;
      if (cid === null) throw new TypeError("Cannot seal a bundle: the relay is not registered");
      const plaintext = await encodeBundle(entries);
      try {
        const contentKey = await this.#contentKeyFor(recipient);
        return JSON.stringify(
          await sealBundle(
            contentKey,
            this.#identity.privateKey,
            { cid, bid, n: entries.length },
            plaintext,
          ),
        );
      } finally {
        plaintext.fill(0);
      }
    } finally {
      for (const entry of entries) entry.payload.fill(0);
    }
  }

  /** Forgets the content key: the next bundle gets a new one (the server lost the key). */
  forgetContentKey(): void {
    this.#contentKey = null;
  }

  /** The content key for the next bundle: reused within the policy's bounds, in memory only. */
  async #contentKeyFor(recipient: BundleRecipient): Promise<ContentKey> {
    const now = Date.now();
    const current = this.#contentKey;
    if (
      current &&
      mayReuseContentKey(
        { kid: current.key.kid, createdAt: current.createdAt, messages: current.messages },
        recipient.kid,
        now,
      )
    ) {
      current.messages += 1;
      return current.key;
    }
    const { contentKey, raw } = await createContentKey(recipient.publicKey, recipient.kid);
    raw.fill(0);
    this.#contentKey = { key: contentKey, createdAt: now, messages: 1 };
    return contentKey;
  }
}
