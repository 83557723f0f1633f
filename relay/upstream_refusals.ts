/**
 * What the parent said, for good, about a sender: a relay stores and forwards, so a client whose
 * report it accepted never hears that the parent then refused it because of who sent it (an
 * authenticating relay further up that has not admitted the client, a computer the server does
 * not know, revoked, or replaced by a key rotation). The relay remembers such a refusal per
 * computer id for a while and gives it, in the parent's own words (its code, and its message cut
 * to a few hundred characters, so memory stays small), to that computer's next reports at once: the client then does what it does when its parent refuses it (registers again,
 * or says to run the manual key exchange, keeping its reports queued).
 *
 * These refusals are facts about the computer id, whoever sent the message that drew them, so a
 * forged message cannot make the relay refuse anyone wrongly. A refusal is forgotten when a
 * registration through this relay gives the computer id back (the key exchange done, say), and
 * after {@linkcode DEFAULT_REFUSAL_TTL_MS} in any case, in case the computer was admitted some
 * other way. Memory is bounded.
 *
 * @module
 */

import { readUpstreamMessage } from "../envelope/report_message.ts";
import { errorBody, readErrorAnswer } from "../protocol/http_error.ts";
import type { WireErrorCode } from "../protocol/wire_error_codes.ts";

/** The parent's error codes that are about the sender, not the message. */
export const SENDER_REFUSAL_CODES: ReadonlySet<WireErrorCode> = new Set<WireErrorCode>([
  "ERR_KEY_EXCHANGE_REQUIRED",
  "ERR_UNKNOWN_COMPUTER",
  "ERR_COMPUTER_REVOKED",
  "ERR_COMPUTER_REPLACED",
]);

/** Longest message kept from a refusal: what is remembered stays small whatever the parent said. */
const MAX_MESSAGE_CHARS = 500;

/** How long a refusal is given on: five minutes. */
export const DEFAULT_REFUSAL_TTL_MS = 5 * 60_000;

/** A refusal as the parent gave it. */
export interface UpstreamRefusal {
  status: number;
  body: unknown;
}

/** Options of an {@linkcode UpstreamRefusals}. */
export interface UpstreamRefusalsOptions {
  ttlMs?: number;
  /** Computers remembered at most; the oldest are forgotten first (default 10,000). */
  maxComputers?: number;
  now?: () => number;
}

/** Refusals of senders the parent gave, per computer id. */
export class UpstreamRefusals {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #refusals = new Map<
    number,
    { status: number; code: WireErrorCode; message: string; at: number }
  >();

  /** Messages the parent refused for good, by its error code (a bounded set: the metrics). */
  readonly #refusedByCode = new Map<string, number>();

  constructor(options: UpstreamRefusalsOptions = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_REFUSAL_TTL_MS;
    this.#max = options.maxComputers ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Remembers the parent's refusal of a message when it is about its sender.
   *
   * @param message the message exactly as forwarded (its computer id is read from it).
   * @returns the computer id remembered, or null when the refusal was about the message.
   */
  noteRefusal(message: Uint8Array, answer: UpstreamRefusal): number | null {
    if (answer.status < 400 || answer.status >= 500) return null;
    const said = readErrorAnswer(answer.body);
    const code = said.kind === "known" ? said.code : null;
    this.#countRefusal(code);
    if (code === null || !SENDER_REFUSAL_CODES.has(code)) return null;
    let computerId: number;
    try {
      computerId = readUpstreamMessage(JSON.parse(new TextDecoder().decode(message))).claims.cid;
    } catch {
      return null;
    }
    const text = said.message === "" ? code : said.message.slice(0, MAX_MESSAGE_CHARS);
    this.#refusals.delete(computerId);
    this.#refusals.set(computerId, {
      status: answer.status,
      code,
      message: text,
      at: this.#now(),
    });
    for (const oldest of this.#refusals.keys()) {
      if (this.#refusals.size <= this.#max) break;
      this.#refusals.delete(oldest);
    }
    return computerId;
  }

  /** The refusal to give a computer's report now, or null. */
  refusalFor(computerId: number): UpstreamRefusal | null {
    const refusal = this.#refusals.get(computerId);
    if (!refusal) return null;
    if (this.#now() - refusal.at >= this.#ttlMs) {
      this.#refusals.delete(computerId);
      return null;
    }
    return { status: refusal.status, body: errorBody(refusal.code, refusal.message) };
  }

  /** Forgets a computer's refusal (a registration through this relay gave its id back). */
  forget(computerId: number): void {
    this.#refusals.delete(computerId);
  }

  /** Computers remembered. */
  get size(): number {
    return this.#refusals.size;
  }

  /**
   * Messages the parent refused for good (4xx) since start, by its error code ("none": no code
   * this version knows, so the set stays bounded by the catalogue).
   */
  refusedByCode(): Map<string, number> {
    return new Map(this.#refusedByCode);
  }

  #countRefusal(code: WireErrorCode | null): void {
    const key = code ?? "none";
    this.#refusedByCode.set(key, (this.#refusedByCode.get(key) ?? 0) + 1);
  }
}
