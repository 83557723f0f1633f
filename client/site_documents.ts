/**
 * The site-signed documents a client fetches from its parent each cycle: the encryption
 * certificate (only a newer one replaces the one held: a relay could replay an older one) and the
 * settings that target this computer (merged per setting, the newest winning). Both are verified
 * against the site key of the installed masthead; what the parent says unsigned changes nothing.
 *
 * @module
 */

import type { SignedDocument } from "../envelope/signed_document.ts";
import { fetchJson } from "../protocol/bounded_fetch.ts";
import type { DocumentVersion } from "../protocol/document_version.ts";
import {
  compareDocumentVersions,
  verifyEncryptionCertificate,
} from "../protocol/encryption_certificate.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { mergeSettings, verifySettings } from "../protocol/settings.ts";
import { type ClientState, deployedSettingsOf, setDeployedSettings } from "./client_state.ts";

/** The server key reports and uploads are encrypted to. */
export interface ServerKey {
  kid: string;
  publicKey: CryptoKey;
}

/** The encryption certificate a client holds (kept in its state) and the server key it names. */
export class HeldCertificate {
  readonly #siteKey: CryptoKey;
  readonly #state: ClientState;
  #version: DocumentVersion | null = null;
  #serverKey: ServerKey | null = null;

  /** Holds the certificate of `state` (once {@linkcode HeldCertificate.restore}d). */
  constructor(siteKey: CryptoKey, state: ClientState) {
    this.#siteKey = siteKey;
    this.#state = state;
  }

  /** The server key of an enabled certificate, or null. */
  get serverKey(): ServerKey | null {
    return this.#serverKey;
  }

  /** Takes up the certificate saved in the state, if any (one that no longer verifies is not). */
  async restore(): Promise<void> {
    if (!this.#state.certificate) return;
    await this.#accept(JSON.parse(this.#state.certificate), true).catch(() => {});
  }

  /** Fetches the parent's certificate and holds it when it verifies and is newer. */
  async refresh(parent: string): Promise<void> {
    const answer = await fetchJson(`${parent}${API.encryptionCertificate}`, {
      maxBytes: MAX_DOCUMENT_BYTES,
    });
    if (answer.status === 404 && errorCodeOf(answer.body) === "ERR_NO_CERTIFICATE") {
      // The site never enabled encryption: keep what we had (nothing, normally).
      return;
    }
    if (answer.status !== 200) return;
    await this.#accept(answer.body as SignedDocument, false);
  }

  async #accept(document: SignedDocument, fromState: boolean): Promise<void> {
    const { certificate, publicKey } = await verifyEncryptionCertificate(this.#siteKey, document);
    // A relay could replay an older signed certificate; only a newer one replaces ours.
    const held = this.#version ?? { issuedAt: this.#state.certificateIssuedAt };
    if (!fromState && compareDocumentVersions(certificate, held) < 0) return;
    this.#version = certificate;
    if (certificate.enabled && publicKey) {
      this.#serverKey = { kid: certificate.kid, publicKey };
      this.#state.certificateKid = certificate.kid;
    } else {
      this.#serverKey = null;
      this.#state.certificateKid = null;
    }
    this.#state.certificate = JSON.stringify(document);
    this.#state.certificateIssuedAt = certificate.issuedAt;
  }
}

/**
 * Fetches what the parent serves at `path` for the registered computer (`?computer=ID`), bounded
 * like every site document: the computer id and the answer's body, or null when the client is not
 * registered yet or the parent answers anything but 200. The body is not verified here.
 *
 * @example
 * ```ts ignore
 * const fetched = await fetchComputerDocument(parent, API.rotationDirective, state);
 * if (fetched !== null) await verifyRotationDirective(siteKey, fetched.body);
 * ```
 */
export async function fetchComputerDocument(
  parent: string,
  path: string,
  state: ClientState,
): Promise<{ cid: number; body: unknown } | null> {
  const cid = state.computerId;
  if (cid === null) return null;
  const answer = await fetchJson(`${parent}${path}?computer=${cid}`, {
    maxBytes: MAX_DOCUMENT_BYTES,
  });
  return answer.status === 200 ? { cid, body: answer.body } : null;
}

/** What a check of a signed document the parent serves for the registered computer works with. */
export interface ComputerDocumentCheck {
  /** The parent's base URL. */
  parent: string;
  /** The site's signing key, which the document must verify against. */
  siteKey: CryptoKey;
  /** The client's state: the computer id asked for, and where what is verified goes. */
  state: ClientState;
  /** Says a document that was skipped, and why. */
  say: (line: string) => void;
}

/**
 * Fetches the settings documents that target the registered computer and merges the verified
 * ones into the state's deployed settings (per setting, the newest signed document wins, so one
 * withheld earlier still counts now). A document that does not verify is skipped and said.
 */
export async function refreshSettings(
  { parent, siteKey, state, say }: ComputerDocumentCheck,
): Promise<void> {
  const fetched = await fetchComputerDocument(parent, API.settings, state);
  if (fetched === null) return;
  const { cid } = fetched;
  const documents = (fetched.body as { documents?: unknown })?.documents;
  if (!Array.isArray(documents)) return;
  const verified = [];
  for (const document of documents) {
    try {
      verified.push(await verifySettings(siteKey, document, cid));
    } catch (error) {
      say(`ignored a settings document: ${(error as Error).message}`);
    }
  }
  setDeployedSettings(state, mergeSettings(deployedSettingsOf(state), verified));
}
