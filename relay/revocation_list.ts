/**
 * The revocation list as a relay holds it: fetched from the parent on start and every interval
 * (default 60 s), verified with the site key (`relay/pinned_masthead.ts`), kept only when newer
 * than the one held (`protocol/document_version.ts`: by the store's serial, so a parent, or
 * anyone between, replaying an older list cannot un-revoke anybody, and a list once signed with a
 * clock far ahead does not freeze the later ones), and persisted in `<data-dir>/revocations.json` so that a restart while the
 * parent is away still knows every revoked computer.
 *
 * Every relay refuses reports from revoked computers (the computer id is in the envelope: a
 * refusal needs no signature, since refusing a forged claim harms no one), and serves the newest
 * verified list to its children. A decrypting relay also stops using the MLE keys the list says
 * the site retired ({@linkcode RevocationList.isKeyRetired}).
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { errorBody, errorCodeOf } from "../protocol/http_error.ts";
import {
  compareDocumentVersions,
  describeDocumentVersion,
  issuedAtText,
} from "../protocol/document_version.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import {
  type RevocationList as SignedRevocations,
  verifyRevocations,
} from "../protocol/revocations.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { readStoredDocument } from "./_stored_document.ts";
import type { DocumentAnswer } from "./document_cache.ts";
import { type ParentSource, Upstream } from "./upstream.ts";
import type { Refusal } from "./refusal.ts";
import type { PinnedMasthead } from "./pinned_masthead.ts";

/** File name of the held revocation list inside the relay's data dir. */
export const REVOCATIONS_FILE = "revocations.json";
/** Default seconds between two refreshes. */
export const DEFAULT_REVOCATION_INTERVAL_SECONDS = 60;

/** What became of an offered list. */
export type OfferOutcome = "adopted" | "same" | "older" | "invalid" | "unverifiable";

/** Options of {@linkcode RevocationList.open}. */
export interface RevocationListOptions {
  dataDir: string;
  /** The parent's base URL (the server or another relay). */
  parentUrl: ParentSource;
  /** Where the site key comes from. */
  masthead: PinnedMasthead;
  log?: Logger;
  /** Milliseconds between refreshes (default 60 s). */
  intervalMs?: number;
  /** Timeout of one request to the parent (default 5 s). */
  timeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The newest verified revocation list, refreshed from the parent.
 *
 * @example
 * ```ts ignore
 * import { RevocationList } from "./revocation_list.ts";
 * const revocations = await RevocationList.open({ dataDir, parentUrl, masthead: pinned });
 * revocations.start();
 * if (revocations.isRevoked(12)) console.log("computer 12 is revoked");
 * await revocations.stop();
 * ```
 */
export class RevocationList {
  readonly #path: string;
  readonly #upstream: Upstream;
  readonly #masthead: PinnedMasthead;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #current:
    | {
      list: SignedRevocations;
      revoked: Set<number>;
      retiredKeys: Set<string>;
      body: Uint8Array<ArrayBuffer>;
    }
    | null = null;
  #storedLoaded = false;
  /** Offers are handled one at a time, so that an older list can never overwrite a newer one. */
  #offering: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #stopped = false;
  readonly #abort = new AbortController();
  #lastProblem: string | null = null;

  private constructor(options: RevocationListOptions) {
    this.#path = joinPath(options.dataDir, REVOCATIONS_FILE);
    this.#upstream = Upstream.of(options.parentUrl);
    this.#masthead = options.masthead;
    this.#log = options.log ?? silentLogger;
    this.#intervalMs = options.intervalMs ?? DEFAULT_REVOCATION_INTERVAL_SECONDS * 1000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Opens the list, loading the persisted one when the site key is already pinned. */
  static async open(options: RevocationListOptions): Promise<RevocationList> {
    const revocations = new RevocationList(options);
    await revocations.#loadStored();
    return revocations;
  }

  /** Whether a computer id is on the newest verified list. */
  isRevoked(computerId: number): boolean {
    return this.#current?.revoked.has(computerId) ?? false;
  }

  /** Whether the site retired the MLE key `kid`: nothing may be decrypted with it any more. */
  isKeyRetired(kid: string): boolean {
    return this.#current?.retiredKeys.has(kid) ?? false;
  }

  /** How many computers are revoked, and when the list held was issued (null: none held). */
  get status(): { revoked: number; issuedAt: number | null } {
    return {
      revoked: this.#current?.revoked.size ?? 0,
      issuedAt: this.#current?.list.issuedAt ?? null,
    };
  }

  /** The 403 answer to a revoked computer (`what` it sent), or null when it is not revoked. */
  refusalFor(computerId: number, what = "report"): Refusal | null {
    if (!this.isRevoked(computerId)) return null;
    return revokedRefusal(computerId, what);
  }

  /**
   * Verifies a signed list and keeps it when it is newer than the one held.
   * Never throws for a bad list: it is logged and ignored.
   */
  offer(document: unknown): Promise<OfferOutcome> {
    const outcome = this.#offering.then(() => this.#offer(document));
    this.#offering = outcome.catch(() => {});
    return outcome;
  }

  async #offer(document: unknown): Promise<OfferOutcome> {
    const siteKey = this.#masthead.siteKey;
    if (!siteKey) return "unverifiable";
    const body = encoder.encode(JSON.stringify(document));
    if (this.#current && equalBytes(this.#current.body, body)) return "same";
    let list: SignedRevocations;
    try {
      list = await verifyRevocations(siteKey, document);
    } catch (error) {
      this.#log.warn("ignored a revocation list that the site key did not sign", {
        reason: (error as Error).message,
      });
      return "invalid";
    }
    const order = this.#current ? compareDocumentVersions(list, this.#current.list) : 1;
    if (order < 0) {
      this.#log.warn("ignored a revocation list older than the one held", {
        offered: describeDocumentVersion(list),
        held: describeDocumentVersion(this.#current!.list),
      });
      return "older";
    }
    if (order === 0) return "same";
    await replaceFileAtomically(this.#path, body, 0o644);
    this.#current = {
      list,
      revoked: new Set(list.revoked),
      retiredKeys: new Set(list.retiredKeys),
      body,
    };
    this.#log.info("revocation list updated", {
      revoked: list.revoked.length,
      retiredKeys: list.retiredKeys?.length ?? 0,
      serial: list.serial ?? null,
      issuedAt: issuedAtText(list.issuedAt),
    });
    return "adopted";
  }

  /** Asks the parent for its list once (pinning the masthead first if none is pinned). */
  async refresh(): Promise<void> {
    try {
      const pinned = await this.#masthead.pinFromParent(this.#upstream, {
        timeoutMs: this.#timeoutMs,
        signal: this.#abort.signal,
      });
      if (!pinned.siteKey) {
        this.#problem(pinned.problem);
        return;
      }
      await this.#loadStored();
      const answer = await this.#upstream.fetchJson(API.revocations, {
        redirect: "manual",
        timeoutMs: this.#timeoutMs,
        maxBytes: MAX_DOCUMENT_BYTES,
        signal: this.#abort.signal,
      });
      if (answer.status === 200 && answer.body !== null) {
        await this.offer(answer.body);
        this.#problem(null);
      } else if (answer.status === 404 && errorCodeOf(answer.body) === "ERR_NO_REVOCATIONS") {
        this.#problem(null); // nobody was ever revoked
      } else {
        this.#problem(`parent answered ${answer.status}`);
      }
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) throw error;
      if (!this.#stopped) this.#problem(describeUnreachable(error));
    }
  }

  /** Refreshes now, then every interval, until {@linkcode stop}. */
  start(): void {
    if (this.#stopped || this.#running) return;
    const tick = () => {
      this.#timer = undefined;
      this.#running = this.refresh().catch((error) => {
        this.#log.error("cannot refresh the revocation list", {
          error: (error as Error).message,
        });
      }).finally(() => {
        this.#running = null;
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#intervalMs);
      });
    };
    tick();
  }

  /** Stops refreshing, cancelling a request in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#running;
    await this.#offering;
  }

  /**
   * The answer for a child asking for the list: the parent's list (from the document cache) is
   * offered first, then the newest verified list is served; with none held, the cache's answer.
   */
  async answerFor(answer: DocumentAnswer): Promise<DocumentAnswer> {
    if (answer.status === 200) {
      let document: unknown = undefined;
      try {
        document = JSON.parse(decoder.decode(answer.body));
      } catch {
        // not JSON: nothing to offer
      }
      if (document !== undefined) await this.offer(document);
    }
    if (!this.#current) return answer;
    return { status: 200, body: this.#current.body, stale: answer.stale };
  }

  async #loadStored(): Promise<void> {
    if (this.#storedLoaded || !this.#masthead.siteKey) return;
    this.#storedLoaded = true;
    const document = await readStoredDocument(this.#path, this.#log, "revocation list");
    if (document === undefined) return;
    await this.offer(document);
  }

  /** Logs a refresh problem once when it starts, and once when it ends. */
  #problem(problem: string | null): void {
    if (problem === this.#lastProblem) return;
    if (problem === null) {
      this.#log.info("revocation list refreshed from the parent again");
    } else {
      this.#log.warn("cannot refresh the revocation list; keeping the one held", {
        reason: problem,
      });
    }
    this.#lastProblem = problem;
  }
}

/** The 403 answer to a revoked computer. */
export function revokedRefusal(computerId: number, what = "report"): Refusal {
  return {
    status: 403,
    body: errorBody(
      "ERR_COMPUTER_REVOKED",
      `Cannot accept ${what} from computer ${computerId}: it is revoked on this site; give the ` +
        'endpoint a new key with "mle-client rotate-keys --compromised" (at an authenticating ' +
        'relay, then "mle-client register --password … <relay-url>")',
    ),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
