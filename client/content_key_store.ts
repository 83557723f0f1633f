/**
 * The client's content key in use, kept in KeyStorage (0600) so that a client run from cron
 * reuses it across runs within the bounds of envelope/content_key_policy.ts. The message count is
 * reserved ahead in blocks before use, so a crash can never make the client exceed the bound.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import {
  MAX_MESSAGES_PER_CONTENT_KEY,
  mayReuseContentKey,
} from "../envelope/content_key_policy.ts";
import { type ContentKey, createContentKey, importContentKey } from "../envelope/jwe.ts";
import { joinPath, readSecretFile, replaceFileAtomically } from "../keystore/secure_file.ts";

const FILE = "content-key.json";
const RESERVATION_BLOCK = 256;

interface StoredContentKey {
  kid: string;
  raw: string;
  encryptedKey: string;
  createdAt: number;
  /** Messages counted as used: reserved before they are sealed. */
  reserved: number;
}

/** Hands out the content key for each message, rotating it when the policy says so. */
export class ContentKeyStore {
  readonly #path: string;
  #stored: StoredContentKey | null = null;
  #key: ContentKey | null = null;
  #used = 0;

  constructor(keyStoragePath: string) {
    this.#path = joinPath(keyStoragePath, FILE);
  }

  /** The content key for one more message to the server key `kid` (whose public key is given). */
  async next(kid: string, serverPublicKey: CryptoKey, now = Date.now()): Promise<ContentKey> {
    if (this.#stored === null) await this.#load();
    const stored = this.#stored;
    const usable = stored !== null && this.#key !== null &&
      mayReuseContentKey(
        { kid: stored.kid, createdAt: stored.createdAt, messages: this.#used },
        kid,
        now,
      );
    if (!usable) {
      const { contentKey, raw } = await createContentKey(serverPublicKey, kid);
      this.#stored = {
        kid,
        raw: encodeBase64Url(raw),
        encryptedKey: contentKey.encryptedKey,
        createdAt: now,
        reserved: 0,
      };
      raw.fill(0);
      this.#key = contentKey;
      this.#used = 0;
    }
    if (this.#used >= this.#stored!.reserved) {
      this.#stored!.reserved = Math.min(
        this.#used + RESERVATION_BLOCK,
        MAX_MESSAGES_PER_CONTENT_KEY,
      );
      await replaceFileAtomically(this.#path, JSON.stringify(this.#stored));
    }
    this.#used++;
    return this.#key!;
  }

  async #load(): Promise<void> {
    try {
      const stored = JSON.parse(new TextDecoder().decode(await readSecretFile(this.#path)));
      this.#key = await importContentKey(
        decodeBase64Url(stored.raw),
        stored.kid,
        stored.encryptedKey,
      );
      this.#stored = stored;
      // Whatever was reserved may have been used before a crash: start after it.
      this.#used = stored.reserved;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) && !(error instanceof SyntaxError)) throw error;
      this.#stored = null;
      this.#key = null;
    }
  }
}
