/**
 * The load of `npm run soak`: a few hundred simulated clients, each with its own Ed25519 key and
 * computer id, sealing their reports to the site's current key as the real client does, and
 * keeping their own record of what they were told: a report is delivered once a parent answered
 * 2xx or 409 `ERR_DUPLICATE_REPORT`, and stays queued otherwise (resent after an exponential
 * back-off with jitter, or after the `Retry-After` it was given). The soak compares these records
 * with the server's store at the end.
 *
 * Every report carries a canary (`custom.SoakCanary`) that must never be found in clear on a
 * relay's disk, and its own id (`custom.SoakId`), by which a report stored twice under two
 * identities would show.
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import { sealReport } from "../envelope/report_message.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { signRegistration } from "../protocol/registration.ts";
import { parseRetryAfter } from "../protocol/upload_fetch.ts";
import { type ContentKeyHolder, fetchServerKey, nextContentKey } from "./simulated_client_keys.ts";

/** One simulated client and its own record. */
interface SoakClient extends ContentKeyHolder {
  cid: number;
  privateKey: CryptoKey;
  nextSeq: number;
  /** Sequence numbers a parent acknowledged. */
  delivered: Set<number>;
  /** Sequence numbers made and not yet acknowledged. */
  queued: Set<number>;
}

/** What the clients hold at the end, for the soak's tally. */
export interface ClientRecords {
  /** `cid` → sequence numbers acknowledged. */
  delivered: Map<number, Set<number>>;
  /** `cid` → sequence numbers still queued. */
  queued: Map<number, Set<number>>;
}

/** Options of {@linkcode SoakClients}. */
export interface SoakClientsOptions {
  /** Ports of the relays (or server) the clients report to, picked at random per request. */
  parentPorts: number[];
  /** The server's port, for the encryption certificate. */
  serverPort: number;
  masthead: string;
  canary: string;
  random: () => number;
}

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 8_000;
const MAX_RETRY_AFTER_MS = 15_000;

/** The simulated clients of a soak. */
export class SoakClients {
  readonly #clients: SoakClient[] = [];
  readonly #options: SoakClientsOptions;
  #acknowledged = 0;

  constructor(options: SoakClientsOptions) {
    this.#options = options;
  }

  /** Reports acknowledged so far. */
  get acknowledged(): number {
    return this.#acknowledged;
  }

  /** Registers `count` clients, each through a random parent, retrying through outages. */
  async register(count: number, deadline: number): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const index = next++;
        const pair = await generateSigningKeyPair();
        const registration = await signRegistration(pair.privateKey, {
          publicKey: encodeBase64Url(await exportSigningPublicKey(pair.publicKey)),
          hostIdentity: `soak-${index}-${crypto.randomUUID()}`,
          hostname: `soak-${index}`,
          issuedAt: Date.now(),
        });
        const body = JSON.stringify(registration);
        for (let attempt = 0;; attempt++) {
          if (Date.now() > deadline) throw new Error("Cannot register the soak's clients in time");
          const answer = await this.#post(API.register, body);
          if (answer?.status === 200 && Number.isSafeInteger(answer.body?.computerId)) {
            this.#clients.push({
              cid: answer.body.computerId,
              privateKey: pair.privateKey,
              nextSeq: 1,
              contentKey: null,
              contentKeyCreatedAt: 0,
              contentKeyMessages: 0,
              delivered: new Set(),
              queued: new Set(),
            });
            break;
          }
          await delay(this.#backoff(attempt, answer?.retryAfterMs ?? null));
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
  }

  /**
   * Makes `total` reports, round-robin over the clients, and sends them with `concurrency`
   * requests in flight; resolves when every one was acknowledged or `deadline` passed.
   */
  async send(total: number, concurrency: number, deadline: number): Promise<void> {
    const work: Array<{ client: SoakClient; seq: number }> = [];
    for (let i = 0; i < total; i++) {
      const client = this.#clients[i % this.#clients.length];
      const seq = client.nextSeq++;
      client.queued.add(seq);
      work.push({ client, seq });
    }
    let next = 0;
    const lane = async () => {
      while (next < work.length && Date.now() < deadline) {
        const { client, seq } = work[next++];
        await this.#deliver(client, seq, deadline);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  }

  /** The clients' own records. */
  records(): ClientRecords {
    return {
      delivered: new Map(this.#clients.map((c) => [c.cid, new Set(c.delivered)])),
      queued: new Map(this.#clients.map((c) => [c.cid, new Set(c.queued)])),
    };
  }

  async #deliver(client: SoakClient, seq: number, deadline: number): Promise<void> {
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      // Sealed anew at each attempt, to the key the site serves now (it rotates during a soak).
      const body = await this.#seal(client, seq).catch(() => null);
      const answer = body === null ? null : await this.#post(API.reports, body);
      const delivered = answer !== null &&
        ((answer.status >= 200 && answer.status < 300) ||
          (answer.status === 409 && errorCodeOf(answer.body) === "ERR_DUPLICATE_REPORT"));
      if (delivered) {
        client.queued.delete(seq);
        client.delivered.add(seq);
        this.#acknowledged++;
        return;
      }
      await delay(this.#backoff(attempt, answer?.retryAfterMs ?? null));
    }
  }

  async #seal(client: SoakClient, seq: number): Promise<string> {
    const { contentKey } = await nextContentKey(client, await this.#serverKey());
    const report = {
      computerId: client.cid,
      seq,
      createdAt: new Date().toISOString(),
      properties: { hostname: `soak-${client.cid}`, note: "x".repeat(400) },
      custom: { SoakCanary: this.#options.canary, SoakId: `${client.cid}:${seq}` },
      relevance: [],
      actionStatuses: [],
      analyses: [],
    };
    const message = await sealReport(
      contentKey,
      client.privateKey,
      { cid: client.cid, seq },
      new TextEncoder().encode(JSON.stringify(report)),
    );
    return JSON.stringify(message);
  }

  #certificate: { at: number; key: Promise<{ kid: string; publicKey: CryptoKey }> } | null = null;

  /** The server's current key, from its certificate checked against the masthead (cached 2 s). */
  #serverKey(): Promise<{ kid: string; publicKey: CryptoKey }> {
    if (this.#certificate === null || Date.now() - this.#certificate.at > 2_000) {
      const key = fetchServerKey(this.#options.serverPort, this.#options.masthead, 5_000);
      // A failed fetch (the server is down) keeps the last key that worked.
      const previous = this.#certificate;
      this.#certificate = { at: Date.now(), key };
      key.catch(() => this.#certificate = previous);
      return previous === null ? key : key.catch(() => previous.key);
    }
    return this.#certificate.key;
  }

  async #post(path: string, body: string) {
    const ports = this.#options.parentPorts;
    const port = ports[Math.floor(this.#options.random() * ports.length)];
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(20_000),
      });
      const text = await response.text();
      let parsed: Record<string, unknown> | null = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: only the status counts
      }
      return {
        status: response.status,
        // deno-lint-ignore no-explicit-any
        body: parsed as any,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      };
    } catch {
      return null; // no answer: the parent is down or was killed mid-request
    }
  }

  /** Exponential back-off with full jitter, or the `Retry-After` asked for (bounded). */
  #backoff(attempt: number, retryAfterMs: number | null): number {
    if (retryAfterMs !== null) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
    const ceiling = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(attempt, 10));
    return ceiling / 2 + this.#options.random() * ceiling / 2;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
