/**
 * The site-signed documents (masthead, encryption certificate, revocation list, settings, rotation
 * directive) as the relay passes them down: always asked of the parent first, and kept on disk so that clients
 * still get the last copy while the parent cannot be reached.
 *
 * The site key signs each, and clients check that signature against their masthead, so a relay
 * (or anyone between) cannot forge or alter one unnoticed. The encryption certificate is the one
 * whose age matters to a fresh client (it has none to compare with): the relay serves the newest
 * it verified against its pinned masthead (`server_certificate.ts`, kept across restarts), never
 * an older one its parent serves later, nor nothing when the parent loses it. The revocation
 * list gets the same care in `revocation_list.ts`; the others are passed through as they come,
 * and an old copy is the most a stale cache can serve.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { ensurePrivateDir, joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import { type ParentAnswer, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { errorBody, readErrorAnswer } from "../protocol/http_error.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { type ParentSource, Upstream } from "./upstream.ts";
import type { ServerCertificate } from "./server_certificate.ts";

/** The documents a relay passes down. */
export type DocumentName =
  | "masthead"
  | "encryption-certificate"
  | "revocations"
  | "settings"
  | "rotation-directive";

/** The documents asked for one computer (`?computer=ID`), cached per computer. */
const PER_COMPUTER: ReadonlySet<DocumentName> = new Set(["settings", "rotation-directive"]);

/** The answer to give a client. */
export interface DocumentAnswer {
  status: number;
  /** JSON bytes: the parent's document (or error body), or the cached copy. */
  body: Uint8Array<ArrayBuffer>;
  /** Whether the body is a cached copy served because the parent could not be asked. */
  stale: boolean;
  /** The parent's `Retry-After` with a refusal passed on (429, 503), if it gave one. */
  retryAfter?: string;
}

/** Options of {@linkcode DocumentCache.open}. */
export interface DocumentCacheOptions {
  /** Folder of the cached copies (`<data-dir>/cache`). */
  dir: string;
  /** The parent's base URL (the server or another relay). */
  parentUrl: ParentSource;
  log?: Logger;
  /** Timeout of one request to the parent (default 5 s). */
  timeoutMs?: number;
  /** The newest encryption certificate verified: served in place of whatever the parent serves. */
  certificate: Pick<ServerCertificate, "offer" | "held">;
}

const PATHS: Record<DocumentName, string> = {
  "masthead": API.masthead,
  "encryption-certificate": API.encryptionCertificate,
  "revocations": API.revocations,
  "settings": API.settings,
  "rotation-directive": API.rotationDirective,
};

const encoder = new TextEncoder();
/** What a client told the relay cannot vouch for its parent's certificate waits. */
const CERTIFICATE_RETRY_AFTER_SECONDS = 30;

/**
 * Fetches documents from the parent and keeps the last good copy of each.
 *
 * @example
 * ```ts ignore
 * import { DocumentCache } from "./document_cache.ts";
 * const documents = await DocumentCache.open({
 *   dir: "/var/opt/mle-relay/cache",
 *   parentUrl: "http://server.example:52311",
 * });
 * const answer = await documents.get("masthead");
 * console.log(answer.status, answer.stale);
 * ```
 */
export class DocumentCache {
  readonly #dir: string;
  readonly #upstream: Upstream;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #certificate: DocumentCacheOptions["certificate"];
  /** What each cache file holds, to skip rewriting (and fsyncing) an unchanged document. */
  readonly #stored = new Map<string, Uint8Array<ArrayBuffer>>();
  /** Requests to the parent in progress, so that many clients asking at once cost one request. */
  readonly #pending = new Map<string, Promise<DocumentAnswer>>();

  private constructor(options: DocumentCacheOptions) {
    this.#dir = options.dir;
    this.#upstream = Upstream.of(options.parentUrl);
    this.#log = options.log ?? silentLogger;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#certificate = options.certificate;
  }

  /**
   * Opens (and creates, mode 0700) the cache folder.
   *
   * @throws {RangeError} When the parent URL is unusable.
   */
  static async open(options: DocumentCacheOptions): Promise<DocumentCache> {
    await ensurePrivateDir(options.dir);
    return new DocumentCache(options);
  }

  /**
   * The answer for a document: the parent's, or the cached copy when the parent cannot be asked.
   *
   * @param computerId Required for `settings` and `rotation-directive` (a positive safe
   * integer), ignored otherwise.
   * @throws {RangeError} When one of those is asked without a valid computer id.
   */
  get(name: DocumentName, computerId?: number): Promise<DocumentAnswer> {
    let key: string = name;
    let pathAndQuery = PATHS[name];
    if (PER_COMPUTER.has(name)) {
      if (!Number.isSafeInteger(computerId) || (computerId as number) < 1) {
        throw new RangeError(
          `Cannot ask for ${name}: computer id "${computerId}" is not a positive integer`,
        );
      }
      key = `${name}-${computerId}`;
      pathAndQuery = `${pathAndQuery}?computer=${computerId}`;
    }
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const fetching = name === "encryption-certificate"
      ? this.#fetchCertificate()
      : this.#fetch(key, pathAndQuery);
    const answer = fetching.finally(() => this.#pending.delete(key));
    this.#pending.set(key, answer);
    return answer;
  }

  /**
   * The parent's answer when it is one to pass on (a JSON document, a 404, another refusal with
   * a JSON body), or why there is none.
   */
  async #ask(pathAndQuery: string): Promise<ParentAnswer | { failure: string }> {
    let answer: ParentAnswer;
    try {
      answer = await this.#upstream.fetchJson(pathAndQuery, {
        // Only the configured parents are asked: a redirect counts as a failure.
        redirect: "manual",
        timeoutMs: this.#timeoutMs,
        maxBytes: MAX_DOCUMENT_BYTES,
      });
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) throw error;
      return { failure: describeUnreachable(error) };
    }
    if (answer.status === 200 && answer.body === null) {
      return { failure: "parent answered 200 with a body that is not JSON" };
    }
    const refusal = answer.status >= 400 && answer.status < 500 && answer.body !== null;
    if (answer.status === 200 || answer.status === 404 || refusal) return answer;
    return { failure: `parent answered ${answer.status}` };
  }

  async #fetch(key: string, pathAndQuery: string): Promise<DocumentAnswer> {
    const answer = await this.#ask(pathAndQuery);
    if ("status" in answer) {
      // Re-serialized JSON: the site's signatures cover the base64url members, not the spacing.
      const body = answer.body === null ? null : json(answer.body);
      if (answer.status === 200 && body !== null) {
        // A copy that cannot be written still serves this request; only the fallback suffers.
        await this.#store(key, body).catch((error) =>
          this.#log.error("cannot cache document", { document: key, error: error.message })
        );
        return { status: 200, body, stale: false };
      }
      if (answer.status === 404) {
        // The parent says there is none (MLE off, settings withdrawn): forget the old copy.
        await this.#drop(key);
        return notFound(key, answer.body);
      }
      return { status: answer.status, body: body!, stale: false, retryAfter: answer.retryAfter };
    }
    const cached = this.#stored.get(key) ?? await this.#load(key);
    this.#log.warn(
      cached ? "cannot refresh document; serving the cached copy" : "cannot fetch document",
      { document: key, reason: answer.failure },
    );
    if (cached) return { status: 200, body: cached, stale: true };
    return unreachable(key);
  }

  /**
   * The encryption certificate: the parent's is offered to the one held, and the newest verified
   * is served, whatever the parent serves now (an older one, none, or nothing at all).
   */
  async #fetchCertificate(): Promise<DocumentAnswer> {
    const key = "encryption-certificate";
    const answer = await this.#ask(PATHS[key]);
    let offer = null;
    if ("status" in answer && answer.status === 200) {
      offer = await this.#certificate.offer(answer.body);
    }
    const held = await this.#certificate.held();
    if (held !== null) return { status: 200, body: json(held), stale: "failure" in answer };
    if (offer === "invalid" || offer === "unverifiable") {
      return {
        status: 503,
        body: json(errorBody(
          "ERR_PARENT_BAD_ANSWER",
          offer === "invalid"
            ? "Cannot pass the encryption certificate on: the site key this relay pinned did " +
              "not sign its parent's; try again later, and tell the relay's operator"
            : "Cannot pass the encryption certificate on: this relay has no masthead pinned to " +
              "check it with yet; try again later",
        )),
        stale: false,
        retryAfter: String(CERTIFICATE_RETRY_AFTER_SECONDS),
      };
    }
    if ("failure" in answer) {
      this.#log.warn("cannot fetch document", { document: key, reason: answer.failure });
      return unreachable(key);
    }
    if (answer.status === 404) return notFound(key, answer.body);
    return {
      status: answer.status,
      body: json(answer.body),
      stale: false,
      retryAfter: answer.retryAfter,
    };
  }

  #pathOf(key: string): string {
    return joinPath(this.#dir, `${key}.json`);
  }

  async #store(key: string, body: Uint8Array<ArrayBuffer>): Promise<void> {
    const known = this.#stored.get(key) ?? await this.#load(key);
    if (known && equalBytes(known, body)) return;
    await replaceFileAtomically(this.#pathOf(key), body, 0o600);
    this.#stored.set(key, body);
  }

  async #load(key: string): Promise<Uint8Array<ArrayBuffer> | null> {
    try {
      const bytes = await Deno.readFile(this.#pathOf(key));
      this.#stored.set(key, bytes);
      return bytes;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  async #drop(key: string): Promise<void> {
    this.#stored.delete(key);
    await Deno.remove(this.#pathOf(key)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** The parent's 404, or one of the relay's own when the parent's body says nothing usable. */
function notFound(key: string, parentBody: unknown): DocumentAnswer {
  const said = readErrorAnswer(parentBody);
  return {
    status: 404,
    body: json(
      said.kind === "known"
        ? errorBody(said.code, said.message)
        : errorBody("ERR_NOT_FOUND", `Cannot find ${key}: the parent has none`),
    ),
    stale: false,
  };
}

function unreachable(key: string): DocumentAnswer {
  return {
    status: 503,
    body: json(errorBody(
      "ERR_PARENT_UNREACHABLE",
      `Cannot get ${key}: the relay's parent does not answer and no copy is cached; try again later`,
    )),
    stale: false,
  };
}

function json(value: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify(value));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
