/**
 * One cycle of the agent: queue a new report, talk to the parent (capabilities, registration,
 * certificate, settings), then drain the queue, encrypting according to the effective level.
 * `client report` runs one cycle; `client run` runs them on an interval.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { sealReport, signReport } from "../envelope/report_message.ts";
import { type ClientKey, loadOrCreateClientKey } from "../keystore/key_storage.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { fetchJson, ParentUnreachableError, postJson } from "../protocol/bounded_fetch.ts";
import { readCapabilities } from "../protocol/capabilities.ts";
import {
  ENCRYPTION_LEVEL_SETTING,
  type EncryptionLevel,
  parseEncryptionLevel,
} from "../protocol/encryption_level.ts";
import type { Masthead } from "../protocol/masthead.ts";
import { orderParents, parentChoice, ParentList } from "../protocol/parent_list.ts";
import { API } from "../protocol/paths.ts";
import { ALLOW_LEGACY_RELAYS_SETTING } from "../protocol/settings.ts";
import {
  type ClientState,
  type DirectedRotation,
  type LevelSource,
  readState,
  writeState,
} from "./client_state.ts";
import { ContentKeyStore } from "./content_key_store.ts";
import { HeldCertificate, refreshSettings, type ServerKey } from "./site_documents.ts";
import {
  decideEncryption,
  type EncryptionDecision,
  type EncryptionSituation,
  type HoldCause,
} from "./encryption_decision.ts";
import type { HostIdentifierKind } from "./host_identity.ts";
import { collectProperties } from "./properties.ts";
import { installMasthead } from "./installed_masthead.ts";
import { clearRotationRecord } from "./rotation_record.ts";
import { registerThrough } from "./registration_request.ts";
import { type QueuedReport, reportOf, ReportQueue } from "./report_queue.ts";
import type { PasswordKey } from "../protocol/key_exchange.ts";
import { KeyExchangeError } from "./key_exchange_hint.ts";
import { checkRotationDirective } from "./rotation_directive_check.ts";
import { describeUndelivered, readReportAnswer, type SentAnswer } from "./report_answer.ts";

/** The level a client uses when nobody set one: encrypt whenever the site offers it. */
export const DEFAULT_ENCRYPTION_LEVEL: EncryptionLevel = "optional";

/** How the agent is set up. */
export interface AgentOptions {
  dataDir: string;
  keyStoragePath: string;
  /** A masthead file to install (first use) or update from. */
  mastheadFile?: string;
  /**
   * Parent URLs in order (`--parent`, repeatable; remembered); the site's `__RelayServer1/2` come
   * before them and the masthead's server URLs after, as the last resort.
   */
  parents?: string[];
  /** Level given at install time (command line or settings file). */
  installLevel?: { level: EncryptionLevel; source: LevelSource };
  hostIdentifier: HostIdentifierKind;
  /** Progress lines for the operator (stderr); silent when quiet. */
  say: (line: string) => void;
}

/** How a cycle ended. */
export interface CycleResult {
  outcome: "delivered" | "queued" | "unreachable" | "failed";
  message: string;
  delivered: number;
  queued: number;
  /** What to do about a failure or a hold, when there is something to do. */
  hint?: string;
  /** Why reports are held (outcome "queued"). */
  heldBy?: HoldCause;
  /**
   * The longest `Retry-After` a busy parent asked for (outcome "unreachable"), else null: the
   * next cycle comes no earlier (`client/next_cycle_delay.ts`).
   */
  retryAfterMs?: number | null;
}

/** A decision to hold a report. */
type HoldDecision = Extract<EncryptionDecision, { action: "hold" }>;

/** The effective encryption level and its source. */
export function effectiveLevel(
  state: ClientState,
): { level: EncryptionLevel; source: LevelSource } {
  const deployed = state.deployedSettings[ENCRYPTION_LEVEL_SETTING];
  if (deployed) return { level: parseEncryptionLevel(deployed), source: "deployed" };
  return state.installLevel ?? { level: DEFAULT_ENCRYPTION_LEVEL, source: "default" };
}

/** The agent of one data dir. */
export class Agent {
  readonly #options: AgentOptions;
  readonly #statePath: string;
  readonly #queue: ReportQueue;
  readonly #contentKeys: ContentKeyStore;
  #masthead!: Masthead;
  #siteKey!: CryptoKey;
  #state!: ClientState;
  #key!: ClientKey;
  #certificate!: HeldCertificate;

  private constructor(options: AgentOptions) {
    this.#options = options;
    this.#statePath = joinPath(options.dataDir, "state.json");
    this.#queue = new ReportQueue(options.dataDir);
    this.#contentKeys = new ContentKeyStore(options.keyStoragePath);
  }

  /** Opens the agent: installs or checks the masthead, loads state and the client key. */
  static async open(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    await ensurePrivateDir(options.dataDir);
    ({ masthead: agent.#masthead, siteKey: agent.#siteKey } = await installMasthead(
      options.dataDir,
      options.mastheadFile,
      options.say,
    ));
    agent.#state = await readState(agent.#statePath);
    if (options.installLevel) agent.#state.installLevel = options.installLevel;
    const given = orderParents(options.parents ?? []);
    if (given.length > 0 && given.join(" ") !== agent.#state.parents.join(" ")) {
      agent.#state.parents = given;
      agent.#state.parent = given[0];
      agent.#state.parentChoice = null; // a new list: start again at its first
    }
    const remembered = agent.#state.keyStoragePath;
    if (remembered !== null && remembered !== options.keyStoragePath) {
      options.say(`KeyStorage is now ${options.keyStoragePath} (was ${remembered})`);
    }
    agent.#state.keyStoragePath = options.keyStoragePath;
    agent.#key = await loadOrCreateClientKey(options.keyStoragePath);
    if (agent.#key.created) options.say(`made a new client key in ${options.keyStoragePath}`);
    if (agent.#state.registeredPublicKey !== agent.#key.publicKeyText) {
      agent.#state.computerId = null;
    }
    agent.#certificate = new HeldCertificate(agent.#siteKey, agent.#state);
    await agent.#certificate.restore();
    await agent.#save();
    return agent;
  }

  /** The client key in use. */
  get clientKey(): ClientKey {
    return this.#key;
  }

  /** The state as last saved. */
  get state(): ClientState {
    return this.#state;
  }

  /** The server key reports and uploads are encrypted to, or null without a certificate. */
  get serverKey(): ServerKey | null {
    return this.#certificate.serverKey;
  }

  /** The parent URL in use: the last one that answered, else the first. */
  get parentUrl(): string {
    return this.#parentList().inUse;
  }

  /**
   * The parents in order: the site's `__RelayServer1/2`, the operator's `--parent` list, the
   * masthead's servers; with what is known of them from earlier cycles.
   */
  #parentList(): ParentList {
    const { parents, resistFailureMs } = parentChoice(
      this.#state.deployedSettings,
      this.#state.parents,
      this.#masthead.serverUrls,
    );
    if (parents.length === 0) {
      throw new MleError(
        "ERR_DOCUMENT_INVALID",
        "Cannot report: no --parent and the masthead names no server",
      );
    }
    return new ParentList({
      parents,
      resistFailureMs,
      state: this.#state.parentChoice ?? undefined,
    });
  }

  /** Adds a new report with the machine's properties and the given custom properties. */
  async queueReport(custom: Record<string, string>): Promise<number> {
    const seq = Math.max(this.#state.nextSeq, (await this.#queue.maxSeq()) + 1);
    this.#state.nextSeq = seq + 1;
    await this.#save(); // the number is spent before the file exists: never reused after a crash
    const report: QueuedReport = {
      seq,
      createdAt: new Date().toISOString(),
      properties: await collectProperties(),
      custom,
    };
    await this.#queue.add(report);
    return seq;
  }

  /** Talks to the parent and drains the queue. */
  async cycle(): Promise<CycleResult> {
    const now = new Date().toISOString();
    this.#state.lastAttemptAt = now;
    try {
      const result = await this.#cycle();
      if (result.outcome === "delivered") {
        this.#state.lastSuccessAt = now;
        this.#state.lastFailure = null;
      } else {
        this.#state.lastFailure = { at: now, message: result.message };
      }
      return result;
    } catch (error) {
      const message = error instanceof ParentUnreachableError
        ? `${error.message}; reports stay queued`
        : (error as Error).message;
      this.#state.lastFailure = { at: now, message };
      return {
        outcome: error instanceof ParentUnreachableError ? "unreachable" : "failed",
        message,
        delivered: 0,
        queued: await this.#queue.depth(),
        ...(error instanceof KeyExchangeError ? { hint: error.hint } : {}),
        ...(error instanceof ParentUnreachableError ? { retryAfterMs: error.retryAfterMs } : {}),
      };
    } finally {
      await this.#save();
    }
  }

  async #cycle(): Promise<CycleResult> {
    // The parents in order until one answers; where one does not take encrypted reports, the
    // next one may. The computer id stays: every parent leads to the same site.
    const parents = this.#parentList();
    let result: CycleResult | undefined;
    const unreachable: ParentUnreachableError[] = [];
    try {
      // Planned again after each failure: a failure can bring the next parents in.
      const tried = new Set<string>();
      for (
        let parent: string | undefined = parents.plan(Date.now())[0];
        parent !== undefined;
        parent = parents.plan(Date.now()).find((url) => !tried.has(url))
      ) {
        tried.add(parent);
        try {
          result = await this.#cycleThrough(parent);
        } catch (error) {
          if (!(error instanceof ParentUnreachableError)) throw error;
          parents.failed(parent, Date.now(), error.message);
          unreachable.push(error);
          continue;
        }
        if (result.heldBy === "parent-refuses-encryption") continue;
        parents.answered(parent);
        break;
      }
    } finally {
      const now = Date.now();
      this.#state.parentChoice = parents.state;
      this.#state.parent = parents.inUse;
      this.#state.parentWhy = parents.why(now);
    }
    if (result === undefined) {
      if (unreachable.length === 1) throw unreachable[0];
      // Every parent failed: say what each did.
      const each = unreachable.map((error) => error.message.replace(/^Cannot reach /, ""));
      const asked = unreachable.flatMap((error) => error.retryAfterMs ?? []);
      throw new ParentUnreachableError(`any parent: ${each.join("; ")}`, {
        retryAfterMs: asked.length === 0 ? null : Math.max(...asked),
      });
    }
    this.#state.heldBecause = result.outcome === "queued" ? result.message : null;
    return result;
  }

  async #cycleThrough(parent: string): Promise<CycleResult> {
    const capabilities = await fetchJson(`${parent}${API.capabilities}`, {
      maxBytes: 64 * 1024,
    });
    this.#state.parentAcceptsEncrypted = capabilities.status === 200 &&
      readCapabilities(capabilities.body).acceptsEncryptedReports;
    if (this.#state.computerId === null) await this.#register(parent);
    await this.#certificate.refresh(parent);
    const documentCheck = {
      parent,
      siteKey: this.#siteKey,
      state: this.#state,
      say: this.#options.say,
    };
    await refreshSettings(documentCheck);
    // A rotation the site asks is noted here and carried out after the cycle (directed_rotation).
    await checkRotationDirective(documentCheck)
      .catch((error) =>
        this.#options.say(`cannot check for a rotation directive: ${error.message}`)
      );

    let delivered = 0;
    for (const queued of await this.#queue.list()) {
      const stop = await this.#deliver(parent, queued);
      if (stop) return { ...stop, delivered, queued: await this.#queue.depth() };
      delivered++;
    }
    return {
      outcome: "delivered",
      message: delivered === 0 ? "nothing to send" : `delivered ${delivered} report(s)`,
      delivered,
      queued: 0,
    };
  }

  /**
   * What the next report or upload is decided on: the effective level, the site-signed
   * certificate and settings, and what the parent said (which alone never lowers protection).
   */
  encryptionSituation(): EncryptionSituation {
    return {
      level: effectiveLevel(this.#state).level,
      hasCertificate: this.serverKey !== null,
      parentAcceptsEncrypted: this.#state.parentAcceptsEncrypted === true,
      legacyRelaysAllowed: this.#state.deployedSettings[ALLOW_LEGACY_RELAYS_SETTING] === "1",
    };
  }

  /**
   * Sends one queued report as the effective level decides, acting on the parent's answer: a new
   * certificate or a new registration are fetched once and the report sent again. Null once it is
   * delivered, else how the cycle stops (the report stays queued unless refused for good).
   */
  async #deliver(
    parent: string,
    queued: QueuedReport,
  ): Promise<Omit<CycleResult, "delivered" | "queued"> | null> {
    let answer = await this.#attempt(parent, queued);
    if (answer.kind === "encryption-refused") {
      // The parent's word, unsigned: decide again, which holds unless the site's signed
      // documents allow clear text.
      this.#state.parentAcceptsEncrypted = false;
      answer = await this.#attempt(parent, queued);
    }
    if (answer.kind === "retry-with-new-certificate") {
      await this.#certificate.refresh(parent);
      answer = await this.#attempt(parent, queued);
    } else if (answer.kind === "reregister") {
      this.#state.computerId = null;
      await this.#register(parent);
      answer = await this.#attempt(parent, queued);
    }
    if (answer.kind === "held") {
      this.#state.encryptingNow = false;
      return {
        outcome: "queued",
        message: `${answer.hold.reason}; nothing was sent and reports stay queued`,
        hint: answer.hold.hint,
        heldBy: answer.hold.cause,
      };
    }
    if (answer.kind === "delivered") return null;
    return {
      outcome: "failed",
      message: describeUndelivered(queued.seq, answer, {
        computerId: this.#state.computerId,
        serverKid: this.serverKey?.kid ?? null,
      }),
    };
  }

  /** Decides the level for one report and sends it so, or holds it. */
  async #attempt(
    parent: string,
    queued: QueuedReport,
  ): Promise<SentAnswer | { kind: "held"; hold: HoldDecision }> {
    const decision = decideEncryption(this.encryptionSituation());
    if (decision.action === "hold") return { kind: "held", hold: decision };
    return await this.#send(parent, queued, decision.action === "encrypt");
  }

  /**
   * Sends one report and reads the answer: a delivered report leaves the queue, one refused for
   * good moves to `queue/rejected`. A busy parent and a missing key exchange are thrown
   * (`ParentUnreachableError`: the next parent may take it; `KeyExchangeError`).
   */
  async #send(parent: string, queued: QueuedReport, encrypt: boolean): Promise<SentAnswer> {
    const cid = this.#state.computerId!;
    const report = reportOf(queued, cid, effectiveLevel(this.#state).level, encrypt);
    const bytes = new TextEncoder().encode(JSON.stringify(report));
    let message;
    if (encrypt) {
      const serverKey = this.serverKey!;
      const contentKey = await this.#contentKeys.next(serverKey.kid, serverKey.publicKey);
      message = await sealReport(contentKey, this.#key.privateKey, { cid, seq: queued.seq }, bytes);
    } else {
      message = await signReport(this.#key.privateKey, { cid, seq: queued.seq, kid: null }, bytes);
    }
    this.#state.encryptingNow = encrypt;
    const answer = readReportAnswer(
      await postJson(`${parent}${API.reports}`, message, 64 * 1024),
      encrypt,
    );
    switch (answer.kind) {
      case "delivered":
        await this.#queue.remove(queued.seq);
        break;
      case "key-exchange-required":
        // An authenticating relay that has not admitted this client: kept for after `register`.
        throw new KeyExchangeError("ERR_KEY_EXCHANGE_REQUIRED", parent, answer.said, this.#options);
      case "busy":
        // Busy or failing: the next parent may take it (the report stays queued meanwhile).
        throw new ParentUnreachableError(
          `${parent} (it answered ${answer.status}: ${answer.said})`,
          { retryAfterMs: answer.retryAfterMs },
        );
      case "refused":
        if (answer.forGood) {
          await this.#queue.reject(
            queued.seq,
            `${answer.status} ${answer.code ?? ""} ${answer.said}`,
          );
        }
    }
    return answer;
  }

  /** Records when `mle-client run` starts its next cycle and why (null: none is waiting). */
  async recordNextCycle(next: ClientState["nextCycle"]): Promise<void> {
    this.#state.nextCycle = next;
    await this.#save();
  }

  /**
   * Takes the rotation the site's directive asks of this computer, if any, and records it as
   * started (saved before the caller does anything), so it is never started twice.
   */
  async startDirectedRotation(): Promise<DirectedRotation | null> {
    const due = this.#state.rotationDue;
    if (due === null) return null;
    this.#state.rotationDue = null;
    const current = due.computerId === this.#state.computerId;
    if (current) this.#state.rotationStarted = { ...due, at: new Date().toISOString() };
    await this.#save();
    return current ? due : null;
  }

  /**
   * Registers through the parent with a manual key-exchange proof made with the password's keys
   * (`mle-client register`, for authenticating relays; one key per relay's salt); returns the
   * computer id.
   *
   * @throws {KeyExchangeError} When the relay refuses the password.
   */
  async registerWithKeyExchange(passwordKeys: PasswordKey[]): Promise<number> {
    try {
      await this.#register(this.parentUrl, passwordKeys);
    } finally {
      await this.#save();
    }
    return this.#state.computerId!;
  }

  async #register(parent: string, passwordKeys?: PasswordKey[]): Promise<void> {
    const { computerId, rotation } = await registerThrough(parent, {
      key: this.#key,
      hostIdentifier: this.#options.hostIdentifier,
      dataDir: this.#options.dataDir,
      keyStoragePath: this.#options.keyStoragePath,
      passwordKeys,
    });
    this.#state.computerId = computerId;
    this.#state.registeredPublicKey = this.#key.publicKeyText;
    await this.#save();
    if (rotation) {
      await clearRotationRecord(this.#options.dataDir);
      this.#options.say(
        `registered as computer ${computerId}, replacing computer ${
          rotation.previousComputerId ?? "?"
        }` +
          (rotation.compromised
            ? " (compromised: the old id stays valid until the operator confirms this one)"
            : " (hand-over)"),
      );
    } else {
      this.#options.say(`registered as computer ${computerId}`);
    }
  }

  async #save(): Promise<void> {
    await writeState(this.#statePath, this.#state);
  }
}
