/**
 * The server key a decrypting relay encrypts its bundles to: the site-signed encryption
 * certificate, fetched from the parent and verified against the site key of the masthead the
 * relay pinned (`--masthead FILE`, the copy `mle-admin encryption import` installed, or, failing
 * both, the parent's on first use). Once a masthead is pinned, a parent (or anyone on the way)
 * cannot make the relay encrypt reports to a key of its own.
 * Like a client, the relay never lets an older certificate replace a newer one.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { fetchJson } from "../protocol/bounded_fetch.ts";
import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { parentBaseUrl } from "./parent_url.ts";

/** How soon to ask again while there is no certificate, in milliseconds. */
const RETRY_MS = 5_000;

/** The key bundles are encrypted to. */
export interface BundleRecipient {
  kid: string;
  publicKey: CryptoKey;
}

/** Options of a {@linkcode ServerCertificate}. */
export interface ServerCertificateOptions {
  parentUrl: string;
  /**
   * The site's Ed25519 public key, from the pinned masthead, or a function that gives it (null
   * while no masthead can be pinned: then there is nothing to encrypt to yet).
   */
  siteKey: CryptoKey | (() => Promise<CryptoKey | null>);
  log: Logger;
  /** How long a verified certificate is used before asking again (default 30 s). */
  ttlMs?: number;
}

/**
 * The site's current encryption certificate, as the relay last verified it.
 *
 * @example
 * ```ts ignore
 * const certificate = new ServerCertificate({ parentUrl, siteKey, log });
 * const recipient = await certificate.recipient(); // null while encryption is off
 * ```
 */
export class ServerCertificate {
  readonly #url: string;
  readonly #siteKey: CryptoKey | (() => Promise<CryptoKey | null>);
  readonly #log: Logger;
  readonly #ttlMs: number;
  #recipient: BundleRecipient | null = null;
  #issuedAt = -Infinity;
  #checkedAt = -Infinity;

  constructor(options: ServerCertificateOptions) {
    this.#url = `${parentBaseUrl(options.parentUrl)}${API.encryptionCertificate}`;
    this.#siteKey = options.siteKey;
    this.#log = options.log;
    this.#ttlMs = options.ttlMs ?? 30_000;
  }

  /**
   * The key to encrypt bundles to, or null when the site has none deployed (encryption off or
   * never on). Asks the parent when the last answer is older than the time to live, or `fresh`.
   *
   * @throws {ParentUnreachableError} When the parent must be asked and does not answer.
   */
  async recipient(fresh = false): Promise<BundleRecipient | null> {
    if (!fresh && Date.now() - this.#checkedAt < this.#ttlMs) return this.#recipient;
    const siteKey = typeof this.#siteKey === "function" ? await this.#siteKey() : this.#siteKey;
    if (siteKey === null) return null;
    const answer = await fetchJson(this.#url, {
      redirect: "manual",
      timeoutMs: 10_000,
      maxBytes: MAX_DOCUMENT_BYTES,
    });
    this.#checkedAt = Date.now();
    if (answer.status === 404) {
      // Never enabled (or the parent lost it): nothing to encrypt to yet. Ask again soon, so
      // that bundling starts within seconds of the key being deployed.
      if (this.#issuedAt === -Infinity) this.#recipient = null;
      if (this.#recipient === null) this.#checkedAt -= this.#ttlMs - RETRY_MS;
      return this.#recipient;
    }
    if (answer.status !== 200) return this.#recipient;
    let verified;
    try {
      verified = await verifyEncryptionCertificate(siteKey, answer.body);
    } catch (error) {
      this.#log.warn("the parent's encryption certificate is not signed by the pinned site key", {
        reason: (error as Error).message,
      });
      return this.#recipient;
    }
    const { certificate, publicKey } = verified;
    if (certificate.issuedAt < this.#issuedAt) return this.#recipient;
    const before = this.#recipient?.kid ?? null;
    this.#issuedAt = certificate.issuedAt;
    this.#recipient = certificate.enabled && publicKey ? { kid: certificate.kid, publicKey } : null;
    const now = this.#recipient?.kid ?? null;
    if (now !== before) {
      this.#log.info(
        now ? "bundles are encrypted to the deployed key" : "encryption is off at the site",
        { kid: now },
      );
    }
    return this.#recipient;
  }
}
