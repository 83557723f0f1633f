/**
 * The site-signed encryption certificate as a relay holds it: fetched from the parent and verified
 * against the site key of the masthead the relay pinned (`--masthead FILE`, the copy
 * `mle-admin encryption import` installed, or, failing both, the parent's on first use). Every
 * relay passes the certificate it holds down to its children (`document_cache.ts` offers it each
 * one its parent serves); a decrypting relay also encrypts its bundles to the key it names. Once
 * a masthead is pinned, a parent (or anyone on the way) can make the relay neither encrypt
 * reports to a key of its own nor serve its children an older certificate than it held.
 *
 * Like a client, the relay never lets an older certificate replace a newer one (the one rule of
 * `protocol/document_version.ts`: the store's serial), and it keeps the newest it accepted in
 * `<data-dir>/encryption-certificate.json`, read back (and verified again) on start: after a
 * restart, whoever answers for the parent cannot serve an older, validly signed certificate
 * naming a key the site has since replaced or retired.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import {
  compareDocumentVersions,
  type EncryptionCertificate,
  verifyEncryptionCertificate,
} from "../protocol/encryption_certificate.ts";
import { describeDocumentVersion, type DocumentVersion } from "../protocol/document_version.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { readStoredDocument } from "./_stored_document.ts";
import { type ParentSource, Upstream } from "./upstream.ts";

/** File name of the newest accepted certificate inside the relay's data dir. */
export const SERVER_CERTIFICATE_FILE = "encryption-certificate.json";

/** How soon to ask again while there is no certificate, in milliseconds. */
const RETRY_MS = 5_000;

/** What became of a certificate offered: see {@linkcode ServerCertificate.offer}. */
export type CertificateOffer =
  | "newer"
  | "same"
  | "older"
  | "invalid"
  /** No masthead is pinned yet: nothing can be verified. */
  | "unverifiable";

/** The key bundles are encrypted to. */
export interface BundleRecipient {
  kid: string;
  publicKey: CryptoKey;
}

/** Options of a {@linkcode ServerCertificate}. */
export interface ServerCertificateOptions {
  parentUrl: ParentSource;
  /** The relay's data dir, where the newest accepted certificate is kept. */
  dataDir: string;
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
  readonly #upstream: Upstream;
  readonly #siteKey: CryptoKey | (() => Promise<CryptoKey | null>);
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #path: string;
  #recipient: BundleRecipient | null = null;
  /** The version of the newest certificate accepted, or null before any. */
  #held: DocumentVersion | null = null;
  /** The newest certificate accepted, as signed. */
  #document: unknown = null;
  #accepting: Promise<unknown> = Promise.resolve();
  /** The last certificate refused, described: each is logged once, not at every offer. */
  #lastRefused: string | null = null;
  /** Reading the stored certificate (once the site key is known), started once. */
  #storedLoad: Promise<void> | null = null;
  #checkedAt = -Infinity;

  constructor(options: ServerCertificateOptions) {
    this.#upstream = Upstream.of(options.parentUrl);
    this.#path = joinPath(options.dataDir, SERVER_CERTIFICATE_FILE);
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
    const siteKey = await this.#currentSiteKey();
    if (siteKey === null) return null;
    const answer = await this.#upstream.fetchJson(API.encryptionCertificate, {
      redirect: "manual",
      timeoutMs: 10_000,
      maxBytes: MAX_DOCUMENT_BYTES,
    });
    this.#checkedAt = Date.now();
    if (answer.status === 404) {
      // Never enabled (or the parent lost it): nothing to encrypt to yet. Ask again soon, so
      // that bundling starts within seconds of the key being deployed.
      if (this.#recipient === null) this.#checkedAt -= this.#ttlMs - RETRY_MS;
      return this.#recipient;
    }
    if (answer.status !== 200) return this.#recipient;
    await this.#accept(siteKey, answer.body, false);
    return this.#recipient;
  }

  /**
   * Offers a certificate the parent served: kept (and written to disk) when the pinned site key
   * signed it and it is newer than the one held.
   */
  async offer(document: unknown): Promise<CertificateOffer> {
    const siteKey = await this.#currentSiteKey();
    if (siteKey === null) return "unverifiable";
    return await this.#accept(siteKey, document, false);
  }

  /**
   * The newest certificate verified so far, as signed (read back from disk after a restart), or
   * null before any (or while no masthead is pinned).
   */
  async held(): Promise<unknown> {
    await (this.#storedLoad ?? this.#currentSiteKey());
    return this.#document;
  }

  /** The pinned site key (the stored certificate read once it is known), or null. */
  async #currentSiteKey(): Promise<CryptoKey | null> {
    const siteKey = typeof this.#siteKey === "function" ? await this.#siteKey() : this.#siteKey;
    if (siteKey !== null) await this.#loadStored(siteKey);
    return siteKey;
  }

  /**
   * Takes a certificate when it verifies and is not older than the one held; keeps it on disk.
   * One at a time: two offers at once can never leave the older one held or on disk.
   */
  #accept(siteKey: CryptoKey, document: unknown, stored: boolean): Promise<CertificateOffer> {
    const outcome = this.#accepting.then(() => this.#acceptNow(siteKey, document, stored));
    this.#accepting = outcome.catch(() => {});
    return outcome;
  }

  async #acceptNow(
    siteKey: CryptoKey,
    document: unknown,
    stored: boolean,
  ): Promise<CertificateOffer> {
    let verified;
    try {
      verified = await verifyEncryptionCertificate(siteKey, document);
    } catch (error) {
      this.#refused(
        stored
          ? "ignored the stored encryption certificate: the pinned site key did not sign it"
          : "the parent's encryption certificate is not signed by the pinned site key",
        { reason: (error as Error).message },
      );
      return "invalid";
    }
    const { certificate, publicKey } = verified;
    const order = this.#held === null ? 1 : compareDocumentVersions(certificate, this.#held);
    if (order < 0) {
      this.#refused("ignored an encryption certificate older than the one held", {
        offered: describeDocumentVersion(certificate),
        held: describeDocumentVersion(this.#held!),
      });
      return "older";
    }
    if (order === 0 && this.#held !== null) return "same";
    if (!stored) await replaceFileAtomically(this.#path, JSON.stringify(document), 0o644);
    const before = this.#recipient?.kid ?? null;
    this.#document = document;
    this.#held = versionOf(certificate);
    this.#recipient = certificate.enabled && publicKey ? { kid: certificate.kid, publicKey } : null;
    const now = this.#recipient?.kid ?? null;
    if (now !== before) {
      this.#log.info(
        now ? "bundles are encrypted to the deployed key" : "encryption is off at the site",
        { kid: now, version: describeDocumentVersion(certificate) },
      );
    }
    return "newer";
  }

  /** Logs a refused certificate, once while the same one keeps being offered. */
  #refused(message: string, fields: Record<string, unknown>): void {
    const said = `${message} ${JSON.stringify(fields)}`;
    if (said === this.#lastRefused) return;
    this.#lastRefused = said;
    this.#log.warn(message, fields);
  }

  /** Reads the newest certificate accepted before a restart, once the site key is known. */
  #loadStored(siteKey: CryptoKey): Promise<void> {
    this.#storedLoad ??= this.#readStored(siteKey);
    return this.#storedLoad;
  }

  async #readStored(siteKey: CryptoKey): Promise<void> {
    const document = await readStoredDocument(this.#path, this.#log, "encryption certificate");
    if (document === undefined) return;
    await this.#accept(siteKey, document, true);
  }
}

function versionOf(certificate: EncryptionCertificate): DocumentVersion {
  return certificate.serial === undefined
    ? { issuedAt: certificate.issuedAt }
    : { serial: certificate.serial, issuedAt: certificate.issuedAt };
}
