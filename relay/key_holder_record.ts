/**
 * A decrypting relay's record of itself at its server (`POST /api/v1/relays/record/<digest>`,
 * `protocol/relay_record.ts`): its name, where its clients reach it and the MLE key ids in its
 * `Encryption Keys`, sent at start, every {@linkcode RELAY_RECORD_INTERVAL_MS} and as soon as
 * the keys it loaded change, so that `mle-admin encryption status` shows which keys it holds and
 * `deploy` refuses a key it lacks (and waits for one imported a moment ago).
 *
 * The request is signed with the relay's own key (only a relay the administrator allowed is
 * recorded) and goes through the relay's ordered parents (`relay/upstream.ts`). A failure is
 * logged (once until the outcome changes) and retried at the next interval; it never stops the
 * relay.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { fetchJson, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { encodeRelayRecord } from "../protocol/relay_record.ts";
import { RELAY_AUTH_HEADER, signRelayRequest } from "../protocol/relay_request.ts";
import { RELAY_RECORD_INTERVAL_MS } from "../store/relay_records.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import type { RelayIdentity } from "./relay_identity.ts";
import { type ParentSource, Upstream } from "./upstream.ts";

/** How often the loaded keys are compared with the recorded ones (in memory, no request). */
export const KEY_CHANGE_CHECK_MS = 1_000;

/** How the relay names itself and where its clients reach it. */
export interface RelaySelf {
  name: string;
  url: string;
}

/**
 * The relay's name and URL from the address it listens on: `HOST:PORT`, HOST being the host's
 * name when the environment gives it (`HOSTNAME`, `COMPUTERNAME`) or the listen address is a
 * wildcard, else the listen address.
 *
 * @example
 * ```ts
 * import { relaySelf } from "./key_holder_record.ts";
 * console.log(relaySelf({ hostname: "127.0.0.1", port: 52311 }, {}).url); // "http://127.0.0.1:52311"
 * ```
 */
export function relaySelf(
  listen: { hostname: string; port: number },
  env: { HOSTNAME?: string; COMPUTERNAME?: string },
): RelaySelf {
  const wildcard = listen.hostname === "0.0.0.0" || listen.hostname === "::";
  const hostName = env.HOSTNAME || env.COMPUTERNAME || "";
  const listenHost = listen.hostname.includes(":") ? `[${listen.hostname}]` : listen.hostname;
  const urlHost = wildcard && hostName !== "" ? hostName : listenHost;
  return {
    name: `${hostName || listenHost}:${listen.port}`.slice(0, 200),
    url: `http://${urlHost}:${listen.port}`,
  };
}

/** Options of a {@linkcode KeyHolderRecord}. */
export interface KeyHolderRecordOptions {
  parentUrl: ParentSource;
  /** The relay's registered identity, which signs each request (unregistered: nothing sent). */
  identity: Pick<RelayIdentity, "computerId" | "privateKey">;
  /** The key ids loaded now (`RelayKeyRing.kids`). */
  kids: () => string[];
  log: Logger;
  /** Default {@linkcode RELAY_RECORD_INTERVAL_MS}. */
  intervalMs?: number;
  /** Default {@linkcode KEY_CHANGE_CHECK_MS}. */
  checkMs?: number;
  now?: () => number;
}

/** Keeps the relay's record at its server current. */
export class KeyHolderRecord {
  readonly #options: KeyHolderRecordOptions;
  readonly #upstream: Upstream;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #self: RelaySelf | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sending: Promise<void> | null = null;
  /** The keys of the last record sent (taken or not), or null before one. */
  #sentKids: string | null = null;
  #lastAttemptAt = -Infinity;
  /** The last outcome logged, so that a repeated failure is logged once. */
  #lastOutcome = "";

  constructor(options: KeyHolderRecordOptions) {
    this.#options = options;
    this.#upstream = Upstream.of(options.parentUrl);
    this.#intervalMs = options.intervalMs ?? RELAY_RECORD_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Records the relay now, then at every interval and key change until {@linkcode stop}. */
  start(self: RelaySelf): void {
    this.#self = self;
    void this.tick();
    this.#timer = setInterval(() => void this.tick(), this.#options.checkMs ?? KEY_CHANGE_CHECK_MS);
  }

  /** Stops recording (the server takes the relay as stopped three intervals later). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sending;
  }

  /** Sends the record when it is due (interval over, or the keys changed); never throws. */
  tick(): Promise<void> {
    if (this.#sending !== null || this.#self === null) return this.#sending ?? Promise.resolve();
    const kids = this.#kidsNow();
    const due = this.#now() - this.#lastAttemptAt >= this.#intervalMs;
    // A failure is retried at the next interval, not at every check.
    if (!due && kids === this.#sentKids) return Promise.resolve();
    this.#lastAttemptAt = this.#now();
    this.#sentKids = kids;
    this.#sending = this.#send(this.#self, kids).finally(() => this.#sending = null);
    return this.#sending;
  }

  #kidsNow(): string {
    return [...this.#options.kids()].sort().join(" ");
  }

  async #send(self: RelaySelf, kids: string): Promise<void> {
    const computerId = this.#options.identity.computerId;
    if (computerId === null) return; // not registered yet: the relay's setup retries that
    try {
      const { path, body } = await encodeRelayRecord({
        ...self,
        kids: kids === "" ? [] : kids.split(" "),
      });
      const header = await signRelayRequest(
        this.#options.identity.privateKey,
        computerId,
        "POST",
        path,
      );
      const answer = await this.#upstream.request(path, (url) =>
        fetchJson(url, {
          method: "POST",
          headers: { "content-type": "application/json", [RELAY_AUTH_HEADER]: header },
          body,
          redirect: "manual",
          timeoutMs: 10_000,
          maxBytes: 16 * 1024,
        }));
      if (answer.status === 200) {
        this.#note(
          `recorded ${kids}`,
          () =>
            this.#options.log.info("recorded at the server with the keys it holds", {
              keys: kids === "" ? 0 : kids.split(" ").length,
            }),
        );
        return;
      }
      const code = errorCodeOf(answer.body);
      this.#note(
        `refused ${answer.status} ${code}`,
        () =>
          this.#options.log.warn("the server refused this relay's record of its keys; retrying", {
            status: answer.status,
            code,
            hint: code === "ERR_RELAY_NOT_ALLOWED"
              ? `allow the relay: mle-admin relays allow ${computerId} --site-key FILE`
              : undefined,
          }),
      );
    } catch (error) {
      const reason = error instanceof ParentUnreachableError
        ? describeUnreachable(error)
        : (error as Error).message;
      this.#note(
        `failed ${reason}`,
        () =>
          this.#options.log.warn("cannot record this relay's keys at the server; retrying", {
            reason,
          }),
      );
    }
  }

  #note(outcome: string, log: () => void): void {
    if (outcome !== this.#lastOutcome) log();
    this.#lastOutcome = outcome;
  }
}
