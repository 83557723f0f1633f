/**
 * The forwarder of a decrypting top-level relay (`mle-relay run --decrypt`): it delivers the spool
 * to the server as report bundles (`protocol/report_bundle.ts`) instead of one envelope per report.
 *
 * Each round takes the oldest spooled messages, up to the bundle size, once there are that many or
 * the oldest has waited the bundle time. For each message, in memory only:
 * - an encrypted client envelope whose key id this relay holds, from a computer the parent knows,
 *   whose outer signature, decryption and inner signature (with its computer id, sequence number
 *   and key id) all check, goes into the bundle as the client's own signed report;
 * - anything else (clear text, another key id, an unknown computer, a bad signature) is forwarded
 *   untouched, as a relay that does not decrypt would, for the server to judge.
 * The bundle is encrypted to the server's current key (from the site-signed certificate), signed
 * once with the relay's key, and posted to the server's bundle path.
 *
 * Nothing in clear text is ever written to disk: the spool keeps the client's ciphertext until the
 * server answered for it. A report the server stored (or already had) is removed; one it refused
 * moves to `rejected/` (still ciphertext) with the reason; anything else stays for the next round.
 * A resend is harmless: the server stores by (computer id, sequence number).
 *
 * When bundling is not possible (encryption off at the site, no certificate, the relay not yet
 * allowed by the administrator, the server refusing the bundle as a whole), the messages are
 * forwarded untouched: the server holds the same keys, so nothing waits and nothing is lost.
 *
 * Rounds run one at a time in the relay's one delivery loop (`relay/_delivery_loop.ts`: wake,
 * back-off, stop); what a message forwarded untouched gets is read as the spool forwarder reads
 * it (`relay/delivery_outcome.ts`).
 *
 * Logs ids, counts and codes, never message bodies.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { type BundleEntry, MAX_BUNDLE_REPORTS } from "../protocol/report_bundle.ts";
import { LoopedForwarder } from "./_delivery_loop.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { BundleReportOpener } from "./bundle_report_opener.ts";
import { bundleRefusal, readBundleResults } from "./bundle_results.ts";
import { BundleSealer } from "./bundle_sealer.ts";
import type { ClientPublicKeys } from "./client_public_keys.ts";
import { type ForwarderStats, settleMessage } from "./delivery_outcome.ts";
import type { RelayIdentity } from "./relay_identity.ts";
import type { RelayKeyRing } from "./relay_key_ring.ts";
import type { RevocationList } from "./revocation_list.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";
import { type ParentSource, Upstream } from "./upstream.ts";
import type { BundleRecipient, ServerCertificate } from "./server_certificate.ts";
import type { Spool } from "./spool.ts";
import { arrivalOf } from "./spool_id.ts";

/** Default most reports in one bundle. */
export const DEFAULT_BUNDLE_MAX = 200;
/** Default longest wait for a bundle to fill, in milliseconds. */
export const DEFAULT_BUNDLE_WAIT_MS = 1_000;
/** Requests in flight at once by default (bundles, and reports forwarded untouched). */
export const DEFAULT_DECRYPTING_CONCURRENCY = 4;
/**
 * Most report bytes (before compression) put in one bundle, so that the sealed bundle stays well
 * under the server's bound on a bundle message.
 */
const MAX_BUNDLE_RAW_BYTES = 8 * 1024 * 1024;
/** Largest answer read for a bundle: one short outcome per report. */
const MAX_BUNDLE_ANSWER_BYTES = 4 * 1024 * 1024;
/** Largest answer read for a single report: an error body at most. */
const MAX_REPORT_ANSWER_BYTES = 64 * 1024;

/** Options of a {@linkcode DecryptingForwarder}. */
export interface DecryptingForwarderOptions {
  spool: Spool;
  /**
   * The relay's parents (or one parent's base URL): bundles and untouched reports go to the
   * parent in use and move to the next with the rest of the relay's upstream traffic.
   */
  parentUrl: ParentSource;
  keys: Pick<RelayKeyRing, "has" | "contentKey" | "refresh">;
  /**
   * The keys the site retired (the signed revocation list): never used, even when their file is
   * still in `Encryption Keys` (a report encrypted to one goes on untouched), and never sealed
   * to, even when the certificate names one.
   */
  retiredKeys?: Pick<RevocationList, "isKeyRetired">;
  identity: Pick<RelayIdentity, "computerId" | "privateKey" | "register" | "forget">;
  clientKeys: Pick<ClientPublicKeys, "get">;
  certificate: Pick<ServerCertificate, "recipient">;
  log?: Logger;
  /** Most reports per bundle, 1 to 1000 (default 200). */
  bundleMax?: number;
  /** Longest a spooled message waits for its bundle to fill, in milliseconds (default 1000). */
  bundleWaitMs?: number;
  /** Messages forwarded untouched at once (default {@link DEFAULT_DECRYPTING_CONCURRENCY}). */
  concurrency?: number;
  /** Timeout of one report delivery (default 30 s); a bundle gets twice as long. */
  timeoutMs?: number;
  /** First retry delay after a failure (default 500 ms). */
  minBackoffMs?: number;
  /** Longest retry delay (default 30 s). */
  maxBackoffMs?: number;
  /** How often the `Encryption Keys` folder is re-read, in milliseconds (default 5 s). */
  keyRefreshMs?: number;
  /** Source of jitter in [0, 1). */
  random?: () => number;
  /** Where refusals of a sender are remembered, for its next reports. */
  refusals?: UpstreamRefusals;
}

/** Counts since start. */
export interface DecryptingForwarderStats extends ForwarderStats {
  /** Bundles the server answered. */
  bundlesSent: number;
  /** Reports the server took from bundles (stored or already had). */
  reportsBundled: number;
  /** Messages forwarded untouched that the server took. */
  passedThrough: number;
}

interface Opened {
  id: string;
  entry: BundleEntry;
}

/**
 * Delivers a decrypting relay's spool as bundles.
 *
 * @example
 * ```ts ignore
 * const forwarder = new DecryptingForwarder({ spool, parentUrl, keys, identity, clientKeys, certificate, log });
 * forwarder.start();
 * // … spool.put(bytes); forwarder.wake();
 * await forwarder.stop();
 * ```
 */
export class DecryptingForwarder extends LoopedForwarder {
  readonly #spool: Spool;
  readonly #upstream: Upstream;
  readonly #keys: DecryptingForwarderOptions["keys"];
  readonly #refusals: UpstreamRefusals | undefined;
  readonly #retiredKeys: DecryptingForwarderOptions["retiredKeys"];
  readonly #identity: DecryptingForwarderOptions["identity"];
  readonly #opener: BundleReportOpener;
  readonly #sealer: BundleSealer;
  readonly #certificate: DecryptingForwarderOptions["certificate"];
  readonly #log: Logger;
  readonly #bundleMax: number;
  readonly #bundleWaitMs: number;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #keyRefreshMs: number;
  readonly #stats: DecryptingForwarderStats = {
    delivered: 0,
    duplicates: 0,
    rejected: 0,
    failures: 0,
    bundlesSent: 0,
    reportsBundled: 0,
    passedThrough: 0,
  };
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  #keyTimer: ReturnType<typeof setInterval> | undefined;
  /** Until when messages are forwarded untouched, and why (logged once per pause). */
  #pausedUntil = 0;
  #pauseReason = "";

  /** @throws {RangeError} For an unusable parent URL, bundle size, wait or concurrency. */
  constructor(options: DecryptingForwarderOptions) {
    super({
      minMs: options.minBackoffMs ?? 500,
      maxMs: options.maxBackoffMs ?? 30_000,
      random: options.random ?? Math.random,
      log: options.log ?? silentLogger,
    });
    this.#spool = options.spool;
    this.#upstream = Upstream.of(options.parentUrl);
    this.#keys = options.keys;
    this.#refusals = options.refusals;
    this.#retiredKeys = options.retiredKeys;
    this.#identity = options.identity;
    this.#certificate = options.certificate;
    this.#log = options.log ?? silentLogger;
    this.#opener = new BundleReportOpener({ ...options, log: this.#log });
    this.#sealer = new BundleSealer(options.identity);
    this.#bundleMax = options.bundleMax ?? DEFAULT_BUNDLE_MAX;
    this.#bundleWaitMs = options.bundleWaitMs ?? DEFAULT_BUNDLE_WAIT_MS;
    this.#concurrency = options.concurrency ?? DEFAULT_DECRYPTING_CONCURRENCY;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#keyRefreshMs = options.keyRefreshMs ?? 5_000;
    if (
      !Number.isInteger(this.#bundleMax) || this.#bundleMax < 1 ||
      this.#bundleMax > MAX_BUNDLE_REPORTS
    ) {
      throw new RangeError(
        `Cannot use bundle size ${this.#bundleMax}: expected 1 to ${MAX_BUNDLE_REPORTS}`,
      );
    }
    if (!Number.isInteger(this.#bundleWaitMs) || this.#bundleWaitMs < 0) {
      throw new RangeError(`Cannot use bundle wait ${this.#bundleWaitMs}: expected milliseconds`);
    }
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError(
        `Cannot use concurrency ${this.#concurrency}: expected a positive integer`,
      );
    }
  }

  /** Starts delivering what the spool holds, and refreshing the keys it holds. */
  override start(): void {
    if (this.loop.running) return;
    this.#keyTimer = setInterval(() => this.#keys.refresh(), this.#keyRefreshMs);
    super.start();
  }

  /**
   * Stops: nothing new starts, and this waits for the round in flight, or `graceMs` at most. What
   * was not answered for stays spooled and is sent again on the next start.
   */
  override async stop(graceMs = 10_000): Promise<void> {
    clearTimeout(this.#waitTimer);
    clearInterval(this.#keyTimer);
    this.#waitTimer = this.#keyTimer = undefined;
    await super.stop(graceMs);
  }

  /** Counts since construction. */
  stats(): DecryptingForwarderStats {
    return { ...this.#stats };
  }

  /** The spooled messages. */
  protected waiting(): number {
    return this.#spool.count();
  }

  /**
   * One round at a time, while messages wait and no bundle is waiting to fill; the loop starts
   * the next when this one ends.
   */
  protected fill(): void {
    if (this.loop.sending > 0 || this.#waitTimer !== undefined) return;
    if (this.#spool.count() === 0) return;
    this.loop.run(this.#work());
  }

  /** One round; never throws: a failure is backed off from. */
  async #work(): Promise<void> {
    try {
      await this.#round();
    } catch (error) {
      if (error instanceof ParentUnreachableError) {
        this.#failed(describeUnreachable(error));
      } else {
        this.#log.error("cannot deliver the spool; keeping it", {
          error: error instanceof Error ? error.message : String(error),
        });
        this.#failed("local failure");
      }
    }
  }

  /** One round: true when it made progress (the loop starts the next when it ends). */
  async #round(): Promise<boolean> {
    const ids = this.#spool.list(this.#bundleMax);
    if (ids.length === 0) return false;
    if (ids.length < this.#bundleMax) {
      const waited = Date.now() - arrivalOf(ids[0]);
      if (waited < this.#bundleWaitMs) {
        this.#waitFor(this.#bundleWaitMs - waited);
        return false;
      }
    }
    const recipient = await this.#bundleRecipient();
    const bytesOf = new Map<string, Uint8Array<ArrayBuffer>>();
    const pass: string[] = [];
    const opened: Opened[] = [];
    let budget = MAX_BUNDLE_RAW_BYTES;
    for (const id of ids) {
      const bytes = await this.#spool.readWaiting(id);
      if (bytes === null) {
        this.#log.warn("spooled message vanished; skipping it", { id });
        continue;
      }
      const entry = recipient ? await this.#opener.open(bytes) : null;
      if (entry === null) {
        bytesOf.set(id, bytes);
        pass.push(id);
        continue;
      }
      const size = entry.payload.length + entry.protected.length + entry.signature.length;
      if (size > budget && opened.length > 0) {
        entry.payload.fill(0);
        break; // the rest waits for the next round
      }
      budget -= size;
      opened.push({ id, entry });
    }
    if (pass.length > 0 && !(await this.#passThrough(pass, bytesOf))) {
      for (const item of opened) item.entry.payload.fill(0);
      return false;
    }
    if (opened.length > 0) return await this.#sendBundle(opened, recipient!);
    return true;
  }

  /**
   * The key to encrypt a bundle to, or null when messages go untouched this round: bundling
   * paused, the relay not registered and the parent refusing it, or no deployed certificate.
   *
   * @throws {ParentUnreachableError} When the parent does not answer.
   */
  async #bundleRecipient(): Promise<BundleRecipient | null> {
    if (Date.now() < this.#pausedUntil) return null;
    if (this.#identity.computerId === null) {
      const outcome = await this.#identity.register(this.#upstream, this.#log);
      if (!outcome.ok) {
        if (outcome.status >= 500) throw new ParentUnreachableError(this.#upstream.current);
        this.#pause(60_000, `the parent refused the relay's registration: ${outcome.message}`);
        return null;
      }
    }
    let recipient = await this.#certificate.recipient();
    if (recipient !== null && this.#retiredKeys?.isKeyRetired(recipient.kid)) {
      // The site retires only a key it replaced: the certificate held is stale, ask again now.
      recipient = await this.#certificate.recipient(true);
    }
    if (recipient === null) {
      this.#pause(
        10_000,
        "no verified encryption certificate to encrypt bundles to (none deployed, or no " +
          "masthead pinned yet); forwarding reports untouched",
      );
      return null;
    }
    // A certificate, however validly signed, never outweighs the site's word that its key is
    // retired: a parent replaying an old one must not get bundles sealed to a dead key.
    if (this.#retiredKeys?.isKeyRetired(recipient.kid)) {
      this.#pause(
        10_000,
        `the certificate the parent serves names key ${recipient.kid}, which the site's ` +
          "revocation list retires; forwarding reports untouched until the current certificate " +
          "is served",
      );
      return null;
    }
    return recipient;
  }

  /** Sends one bundle and acts on the answer; true when the round may go on. */
  async #sendBundle(opened: Opened[], recipient: BundleRecipient): Promise<boolean> {
    const relayId = this.#identity.computerId!;
    const bid = crypto.randomUUID();
    const entries = opened.map((item) => item.entry);
    const body = await this.#sealer.seal(entries, recipient, bid);
    this.#log.info("sending bundle", { bundle: bid, reports: entries.length });
    const ids = opened.map((item) => item.id);
    const answer = await this.#upstream.fetchJson(API.bundles, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
      redirect: "manual",
      timeoutMs: this.#timeoutMs * 2,
      maxBytes: MAX_BUNDLE_ANSWER_BYTES,
    });
    const code = errorCodeOf(answer.body) ?? "none";
    const results = answer.status === 200 ? readBundleResults(answer.body, ids.length) : null;
    if (results !== null) {
      this.loop.answered();
      this.#stats.bundlesSent += 1;
      let stored = 0;
      let refused = 0;
      // All at once, as the report forwarder settles a batch: one done-list write per segment.
      await Promise.all(ids.map(async (id, index) => {
        const result = results[index];
        switch (result.kind) {
          case "stored":
          case "duplicate":
            await this.#spool.remove(id);
            this.#stats[result.kind === "stored" ? "delivered" : "duplicates"] += 1;
            this.#stats.reportsBundled += 1;
            stored += 1;
            break;
          case "refused":
            await this.#spool.reject(
              id,
              `server refused the report inside bundle ${bid}: ${result.code}${
                result.message ? `: ${result.message}` : ""
              }`,
            );
            this.#stats.rejected += 1;
            refused += 1;
            break;
          case "unread":
            break; // it stays spooled for the next round
        }
      }));
      this.#log.info("bundle delivered", { bundle: bid, reports: ids.length, stored, refused });
      return true;
    }
    if (answer.status >= 500 || answer.status === 408 || answer.status === 429) {
      this.#failed(`parent answered ${answer.status} to a bundle`);
      return false;
    }
    // The server refused the bundle as a whole: say why, and let the reports go untouched.
    const refusal = bundleRefusal(answer.status, code, relayId);
    if (refusal.then === "register-again") await this.#identity.forget();
    if (refusal.then === "fetch-certificate") {
      this.#sealer.forgetContentKey();
      await this.#certificate.recipient(true).catch(() => null);
    }
    this.#pause(refusal.pauseMs, refusal.reason);
    const bytesOf = new Map<string, Uint8Array<ArrayBuffer>>();
    for (const id of ids) {
      const bytes = await this.#spool.readWaiting(id);
      if (bytes !== null) bytesOf.set(id, bytes);
    }
    return await this.#passThrough([...bytesOf.keys()], bytesOf);
  }

  /** Forwards messages untouched, a few at a time; true when the parent took or refused each. */
  async #passThrough(
    ids: string[],
    bytesOf: Map<string, Uint8Array<ArrayBuffer>>,
  ): Promise<boolean> {
    let ok = true;
    let next = 0;
    const worker = async () => {
      while (ok && next < ids.length) {
        const id = ids[next++];
        if (!(await this.#deliverOne(id, bytesOf.get(id)!))) ok = false;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, ids.length) }, worker));
    return ok;
  }

  /** Forwards one message untouched; true when the parent took or refused it. */
  async #deliverOne(id: string, bytes: Uint8Array<ArrayBuffer>): Promise<boolean> {
    const answer = await this.#upstream.fetchJson(API.reports, {
      method: "POST",
      body: bytes,
      headers: { "content-type": "application/json" },
      redirect: "manual",
      timeoutMs: this.#timeoutMs,
      maxBytes: MAX_REPORT_ANSWER_BYTES,
    });
    const target = { spool: this.#spool, log: this.#log, stats: this.#stats };
    const outcome = await settleMessage({ ...target, refusals: this.#refusals }, id, bytes, answer);
    if (outcome.kind === "retry") {
      this.#failed(outcome.reason);
      return false;
    }
    if (outcome.kind !== "rejected") this.#stats.passedThrough += 1;
    this.loop.answered();
    return true;
  }

  #pause(ms: number, reason: string): void {
    this.#pausedUntil = Date.now() + ms;
    if (reason !== this.#pauseReason) {
      this.#pauseReason = reason;
      this.#log.warn(`not bundling for now: ${reason}`);
    }
  }

  #waitFor(ms: number): void {
    if (this.#waitTimer !== undefined) return;
    this.#waitTimer = setTimeout(() => {
      this.#waitTimer = undefined;
      this.loop.wake();
    }, Math.max(1, ms));
  }

  /** Counts the failure and backs off, once per streak step. */
  #failed(reason: string): void {
    this.#stats.failures += 1;
    this.loop.failed(reason);
  }
}
