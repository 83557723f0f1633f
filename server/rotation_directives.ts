/**
 * Serves the current rotation directive to the computers it names, and only to them: every other
 * computer (almost all, almost always) gets a small 404 for the price of a set lookup, because the
 * named ids are read from the store at most once per refresh interval, not per request.
 *
 * The server reads the directive from its own store without verifying it: clients verify it
 * against the site key in their masthead before acting on it.
 *
 * @module
 */

import { readUnverifiedBody } from "../envelope/signed_document.ts";
import type { Store } from "../store/mod.ts";

/** How long the named ids are reused before the store is read again, in milliseconds. */
export const ROTATION_DIRECTIVE_REFRESH_MS = 2_000;

/** The directive to serve, per computer. */
export class RotationDirectives {
  readonly #store: Store;
  readonly #refreshMs: number;
  #loadedAt = -Infinity;
  #loading: Promise<void> | null = null;
  #document: string | null = null;
  #named = new Set<number>();

  constructor(store: Store, refreshMs = ROTATION_DIRECTIVE_REFRESH_MS) {
    this.#store = store;
    this.#refreshMs = refreshMs;
  }

  /** The signed directive (JSON text) when it names `computerId`, else null. */
  async documentFor(computerId: number): Promise<string | null> {
    if (performance.now() - this.#loadedAt >= this.#refreshMs) {
      this.#loading ??= this.#load().finally(() => this.#loading = null);
      await this.#loading;
    }
    return this.#named.has(computerId) ? this.#document : null;
  }

  async #load(): Promise<void> {
    const text = await this.#store.getDocument("rotation-directive");
    if (text !== this.#document) {
      this.#named = namedIds(text);
      this.#document = text;
    }
    this.#loadedAt = performance.now();
  }
}

function namedIds(text: string | null): Set<number> {
  const requests = text === null ? null : readUnverifiedBody(text)?.requests;
  if (!Array.isArray(requests)) return new Set(); // none, or unreadable: served to nobody
  return new Set(requests.map((r) => (r as { computerId?: unknown })?.computerId as number));
}
