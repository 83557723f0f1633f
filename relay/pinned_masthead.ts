/**
 * The site key a relay checks signed documents with (the revocation list), from a masthead
 * pinned in its data dir (`<data-dir>/masthead.json`).
 *
 * The masthead comes from `--masthead FILE` (the operator's copy: no trust in the network), or,
 * without one, from the parent on first start (trust on first use, as a client trusts the masthead
 * it is installed with). Once pinned, only a masthead signed by the same site key may replace it.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { MleError } from "../envelope/errors.ts";
import { joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import { fetchJson } from "../protocol/bounded_fetch.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import { type Masthead, verifyMasthead } from "../protocol/masthead.ts";
import { API } from "../protocol/paths.ts";
import { parentBaseUrl } from "./parent_url.ts";

/** File name of the pinned masthead inside the relay's data dir. */
export const PINNED_MASTHEAD_FILE = "masthead.json";

/** Options of {@linkcode PinnedMasthead.open}. */
export interface PinnedMastheadOptions {
  dataDir: string;
  /** The operator's masthead file: pinned when none is, or when newer and of the same site. */
  mastheadFile?: string;
  log?: Logger;
}

/**
 * The relay's pinned masthead and its site key.
 *
 * @example
 * ```ts ignore
 * import { PinnedMasthead } from "./pinned_masthead.ts";
 * const pinned = await PinnedMasthead.open({ dataDir: "/var/opt/mle-relay" });
 * const { siteKey } = await pinned.pinFromParent("http://server.example:52311");
 * ```
 */
export class PinnedMasthead {
  readonly #path: string;
  readonly #log: Logger;
  #pinned: { masthead: Masthead; siteKey: CryptoKey } | null = null;

  private constructor(path: string, log: Logger) {
    this.#path = path;
    this.#log = log;
  }

  /**
   * Loads the pinned masthead and installs `mastheadFile` when given.
   *
   * @throws {MleError} `ERR_DOCUMENT_INVALID` when the pinned or given masthead is not valid, or
   * the given one belongs to another site.
   */
  static async open(options: PinnedMastheadOptions): Promise<PinnedMasthead> {
    const pinned = new PinnedMasthead(
      joinPath(options.dataDir, PINNED_MASTHEAD_FILE),
      options.log ?? silentLogger,
    );
    let text: string | null = null;
    try {
      text = await Deno.readTextFile(pinned.#path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (text !== null) pinned.#pinned = await verifyText(text, `"${pinned.#path}"`);
    if (options.mastheadFile !== undefined) {
      const offeredText = await Deno.readTextFile(options.mastheadFile);
      const offered = await verifyText(
        offeredText,
        `"${options.mastheadFile}"`,
        pinned.#pinned?.masthead.sitePublicKey,
      );
      if (!pinned.#pinned || offered.masthead.createdAt > pinned.#pinned.masthead.createdAt) {
        await replaceFileAtomically(pinned.#path, offeredText, 0o644);
        pinned.#pinned = offered;
      }
    }
    return pinned;
  }

  /** The pinned site key, or null when no masthead is pinned yet. */
  get siteKey(): CryptoKey | null {
    return this.#pinned?.siteKey ?? null;
  }

  /** The server URLs of the pinned masthead (none when nothing is pinned yet). */
  get serverUrls(): string[] {
    return this.#pinned?.masthead.serverUrls ?? [];
  }

  /** The pinned masthead's site name, or null. */
  get siteName(): string | null {
    return this.#pinned?.masthead.siteName ?? null;
  }

  /**
   * Pins the parent's masthead when none is pinned (trust on first use). Returns the site key, or
   * null with the problem when the parent has no valid masthead to give now (the caller tries
   * again later).
   *
   * @throws {ParentUnreachableError} When the parent does not answer.
   */
  async pinFromParent(
    parentUrl: string,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<{ siteKey: CryptoKey } | { siteKey: null; problem: string }> {
    const known = this.siteKey;
    if (known) return { siteKey: known };
    const answer = await fetchJson(`${parentBaseUrl(parentUrl)}${API.masthead}`, {
      redirect: "manual",
      timeoutMs: options.timeoutMs ?? 5_000,
      maxBytes: MAX_DOCUMENT_BYTES,
      signal: options.signal,
    });
    if (answer.status !== 200 || answer.body === null) {
      return { siteKey: null, problem: `no masthead to pin: parent answered ${answer.status}` };
    }
    let verified;
    try {
      verified = await verifyMasthead(answer.body);
    } catch (error) {
      return {
        siteKey: null,
        problem: `the parent's masthead is not valid: ${(error as Error).message}`,
      };
    }
    // Another refresh may have pinned one meanwhile: the first pinned stays.
    const meanwhile = this.siteKey;
    if (meanwhile) return { siteKey: meanwhile };
    await replaceFileAtomically(this.#path, JSON.stringify(answer.body), 0o644);
    this.#pinned = verified;
    this.#log.info("pinned the site's masthead from the parent", {
      site: verified.masthead.siteName,
    });
    return { siteKey: verified.siteKey };
  }
}

async function verifyText(
  text: string,
  name: string,
  pinnedSiteKey?: string,
): Promise<{ masthead: Masthead; siteKey: CryptoKey }> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new MleError("ERR_DOCUMENT_INVALID", `Cannot read masthead ${name}: not JSON`);
  }
  try {
    return await verifyMasthead(document, pinnedSiteKey);
  } catch (error) {
    if (!(error instanceof MleError)) throw error;
    throw new MleError("ERR_DOCUMENT_INVALID", `${error.message}: ${name}`);
  }
}
