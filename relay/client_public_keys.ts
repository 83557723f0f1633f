/**
 * Clients' public keys as a decrypting relay learns them: from its parent's
 * `GET /api/v1/computers/ID` (the server's registration record), asked with a request signed by
 * the relay's own key (the server answers only relays the administrator allowed), imported once
 * and kept for a while, so that checking a client's signatures costs no request per report. The
 * keys known are also what the relay checks reports against before spooling them
 * ({@linkcode ClientPublicKeys.knownKey}): a computer id's key never changes.
 *
 * The server stays the authority: it checks every client's signature again inside the bundle, and
 * refuses revoked or replaced computers. The relay's check only keeps what it cannot vouch for out
 * of its bundles (such messages are forwarded untouched, for the server to judge).
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { importSigningPublicKey } from "../envelope/signature.ts";
import { API } from "../protocol/paths.ts";
import { RELAY_AUTH_HEADER, signRelayRequest } from "../protocol/relay_request.ts";
import { type ParentSource, Upstream } from "./upstream.ts";
import type { RelayIdentity } from "./relay_identity.ts";

/** A client as the parent describes it. */
export interface ClientPublicKey {
  publicKey: CryptoKey;
  /** False when the computer was revoked, replaced or removed. */
  maySend: boolean;
}

/** Options of a {@linkcode ClientPublicKeys}. */
export interface ClientPublicKeysOptions {
  parentUrl: ParentSource;
  /** The relay's registered identity, which signs each request (none registered: no answer). */
  identity: Pick<RelayIdentity, "computerId" | "privateKey">;
  /** How long an answer is kept, in milliseconds (default 10 minutes). */
  ttlMs?: number;
  /** Most clients kept (default 200,000). */
  max?: number;
  /** Timeout of one request (default 10 s). */
  timeoutMs?: number;
}

/**
 * A bounded, expiring cache of clients' public keys.
 *
 * @example
 * ```ts ignore
 * const keys = new ClientPublicKeys({ parentUrl: "http://server.example:52311" });
 * const client = await keys.get(12); // null when the parent does not know computer 12
 * ```
 */
export class ClientPublicKeys {
  readonly #upstream: Upstream;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #identity: ClientPublicKeysOptions["identity"];
  #cache = new Map<number, { value: ClientPublicKey; at: number }>();

  constructor(options: ClientPublicKeysOptions) {
    this.#upstream = Upstream.of(options.parentUrl);
    this.#ttlMs = options.ttlMs ?? 10 * 60 * 1000;
    this.#max = options.max ?? 200_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#identity = options.identity;
  }

  /**
   * The public key of computer `id` when it is cached, however long ago it was asked (the server
   * binds a computer id to one key for ever), else null. Never asks the parent.
   */
  knownKey(id: number): CryptoKey | null {
    return this.#cache.get(id)?.value.publicKey ?? null;
  }

  /**
   * The public key of computer `id`, or null when the parent does not know it or gives an
   * unusable answer (not cached: the client may be registering right now).
   *
   * @throws {ParentUnreachableError} When the parent does not answer.
   */
  async get(id: number): Promise<ClientPublicKey | null> {
    const cached = this.#cache.get(id);
    if (cached && Date.now() - cached.at < this.#ttlMs) return cached.value;
    const relayId = this.#identity.computerId;
    if (relayId === null) return null;
    const path = `${API.computers}/${id}`;
    const answer = await this.#upstream.fetchJson(path, {
      headers: {
        [RELAY_AUTH_HEADER]: await signRelayRequest(
          this.#identity.privateKey,
          relayId,
          "GET",
          path,
        ),
      },
      redirect: "manual",
      timeoutMs: this.#timeoutMs,
      maxBytes: 16 * 1024,
    });
    const body = answer.body as { computerId?: unknown; publicKey?: unknown; maySend?: unknown };
    if (answer.status !== 200 || body?.computerId !== id || typeof body.publicKey !== "string") {
      return null;
    }
    let publicKey: CryptoKey;
    try {
      publicKey = await importSigningPublicKey(decodeBase64Url(body.publicKey));
    } catch {
      return null;
    }
    const value = { publicKey, maySend: body.maySend === true };
    this.#cache.delete(id); // re-inserted as the newest
    this.#cache.set(id, { value, at: Date.now() });
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as number);
    return value;
  }

  /** Forgets a client (its signature did not verify with the cached key: it may have changed). */
  forget(id: number): void {
    this.#cache.delete(id);
  }
}
