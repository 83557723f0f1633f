/**
 * The relay's HTTP app: the same paths as the server's (`protocol/paths.ts`), so that clients and
 * child relays need not know what their parent is.
 *
 * - Reports are checked for shape (and, when this relay knows the sender's public key, for its
 *   signature: a forgery gets 403), stored durably, acknowledged with 202 and forwarded later. A
 *   full spool, or a sender's full share of it, answers 503 with `Retry-After`: the sender keeps
 *   the report. Encrypted reports stay ciphertext on disk; only a decrypting relay
 *   (`--decrypt`) opens them, in memory, when it forwards them (`relay/decrypting_forwarder.ts`).
 * - A child relay's batch (`POST /api/v1/reports/batch`, announced in the capabilities): each
 *   envelope goes through the same checks as a report sent alone (revocation list, an
 *   authenticating relay's admitted clients and signature, the spool's bounds) and is answered as
 *   it would be alone; the accepted ones share the spool's group commit.
 * - Registrations go to the parent at once: the client needs its computer id now.
 * - Authenticating (`authenticator` given): registrations need the manual key exchange, and
 *   reports and settings requests come only from admitted, non-revoked computers, whose report
 *   signatures are checked (`relay/authenticator.ts`).
 * - Every relay refuses reports from computers on the revocation list (`relay/revocation_list.ts`)
 *   and serves its newest verified list.
 * - Signed documents come from the parent, or from the cache while the parent is away.
 *
 * @module
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Logger, silentLogger } from "../cli/log.ts";
import { answerMetrics, type Registry } from "../ops/metrics.ts";
import { requestIdMiddleware } from "../ops/request_id_middleware.ts";
import { MleError } from "../envelope/errors.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import { readUpstreamMessage } from "../envelope/report_message.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import type { Capabilities } from "../protocol/capabilities.ts";
import { errorBody, errorCodeOf } from "../protocol/http_error.ts";
import { wireCodeOf, type WireErrorCode } from "../protocol/wire_error_codes.ts";
import {
  MAX_DOCUMENT_BYTES,
  MAX_REGISTRATION_BYTES,
  MAX_REPORT_BATCH_BYTES,
  MAX_REPORT_MESSAGE_BYTES,
} from "../protocol/limits.ts";
import {
  decodeReportBatch,
  type ReportBatchAnswer,
  type ReportBatchResult,
} from "../protocol/report_batch.ts";
import { API } from "../protocol/paths.ts";
import { isStorageFull, storageFullAnswer } from "../protocol/storage_full.ts";
import { currentRequestId, newRequestId } from "../protocol/request_id.ts";
import { VERSION } from "../protocol/version.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { readBounded } from "../protocol/read_bounded.ts";
import { parseRetryAfter } from "../protocol/upload_fetch.ts";
import type { RelayVoucher, VoucherStatement } from "../protocol/relay_voucher.ts";
import type { RelayAuthenticator } from "./authenticator.ts";
import type { DocumentCache, DocumentName } from "./document_cache.ts";
import type { Forwarder } from "./forwarder.ts";
import type { KeyExchangeSalts } from "./key_exchange_salts.ts";
import { ParentCapabilities } from "./parent_capabilities.ts";
import { type ParentSource, Upstream } from "./upstream.ts";
import type { RevocationList } from "./revocation_list.ts";
import { type KnownSenderKeys, refuseForgery } from "./sender_keys.ts";
import { type Spool, SpoolFullError } from "./spool.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";

/** What the relay app is built from. */
export interface RelayAppOptions {
  /** Where accepted reports are stored before the acknowledgement. */
  spool: Pick<Spool, "put" | "isFull">;
  /**
   * The senders' public keys this relay already knows (a decrypting relay's cache of its
   * parent's answers): a report whose signature does not verify with its sender's key is refused
   * before it is spooled. Never asks the parent, so a report costs no request upstream.
   */
  senderKeys?: KnownSenderKeys;
  /** Told about every newly spooled report. */
  forwarder: Pick<Forwarder, "wake">;
  /** The signed documents passed down. */
  documents: Pick<DocumentCache, "get">;
  /** The parent's base URL, for registrations. */
  parentUrl: ParentSource;
  /** Whether encrypted reports are accepted (stored as ciphertext and forwarded). */
  acceptsEncryptedReports: boolean;
  /** Whether this relay decrypts and bundles (`--decrypt`): said in its capabilities. */
  decrypting?: boolean;
  log?: Logger;
  /** Timeout of a registration forwarded to the parent (default 15 s). */
  registrationTimeoutMs?: number;
  /** Makes the relay authenticating: key exchange for registrations, checked senders. */
  authenticator?: Pick<RelayAuthenticator, "admitRegistration" | "checkReport" | "checkComputer">;
  /** The verified revocation list: revoked senders are refused, children get the newest list. */
  revocations?: Pick<RevocationList, "refusalFor" | "answerFor">;
  /** The upload routes (`relay/upload_app.ts`), mounted at `/api/v1/uploads` when given. */
  uploads?: Hono;
  /**
   * Signs this relay's voucher for a registration (the client's address; whether this relay
   * admitted it), added when the registration goes on to an authenticating parent.
   */
  vouch?: (registration: FlattenedJws, statement: VoucherStatement) => Promise<RelayVoucher>;
  /** The key-exchange salts served at `GET /api/v1/key-exchange` (this relay's and above). */
  keyExchangeSalts?: Pick<KeyExchangeSalts, "parameters">;
  /** The parent's refusals of senders, given to their next reports at once. */
  refusals?: Pick<UpstreamRefusals, "refusalFor" | "forget">;
  /** Where the answers are counted and timed (`ops/metrics.ts`), when given. */
  registry?: Registry;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const JSON_HEADERS = { "content-type": "application/json" };
const COMPUTER_ID_PATTERN = /^[1-9][0-9]{0,15}$/;
/** What a sender told that the spool is full waits before trying again. */
export const SPOOL_FULL_RETRY_AFTER_SECONDS = 60;

/**
 * Builds the relay's HTTP app.
 *
 * @throws {RangeError} When the parent URL is unusable.
 *
 * @example
 * ```ts ignore
 * import { createRelayApp } from "./app.ts";
 * const app = createRelayApp({ spool, forwarder, documents, parentUrl, acceptsEncryptedReports: true });
 * const response = await app.request("/api/v1/capabilities");
 * console.log((await response.json()).role); // "relay"
 * ```
 */
export function createRelayApp(options: RelayAppOptions): Hono {
  const {
    spool,
    forwarder,
    documents,
    acceptsEncryptedReports,
    authenticator,
    revocations,
    refusals,
  } = options;
  const log = options.log ?? silentLogger;
  const upstream = Upstream.of(options.parentUrl);
  const registrationTimeoutMs = options.registrationTimeoutMs ?? 15_000;
  const parentCapabilities = new ParentCapabilities(upstream);
  const capabilities: Capabilities = {
    role: "relay",
    acceptsEncryptedReports,
    authenticating: authenticator !== undefined,
    decrypting: options.decrypting === true,
    acceptsReportBatches: true,
    version: VERSION,
  };

  const app = new Hono();
  // First: every log line about a request, its answer and its calls upstream name its id.
  app.use(requestIdMiddleware());
  if (options.registry) app.use(answerMetrics(options.registry));

  app.get(API.capabilities, (c) => c.json(capabilities));

  const serveDocument = async (name: DocumentName, computerId?: number) => {
    let answer = await documents.get(name, computerId);
    if (name === "revocations" && revocations) answer = await revocations.answerFor(answer);
    const headers: Record<string, string> = { ...JSON_HEADERS, "cache-control": "no-store" };
    if (answer.stale) headers["x-mle-relay-cache"] = "stale";
    Object.assign(headers, retryAfterOf(answer));
    return new Response(answer.body, { status: answer.status, headers });
  };
  app.get(API.masthead, () => serveDocument("masthead"));
  app.get(API.encryptionCertificate, () => serveDocument("encryption-certificate"));
  app.get(API.revocations, () => serveDocument("revocations"));
  // The documents asked per computer: settings and the rotation directive.
  for (
    const [path, name] of [[API.settings, "settings"], [
      API.rotationDirective,
      "rotation-directive",
    ]] as const
  ) {
    app.get(path, (c) => {
      const computer = c.req.query("computer") ?? "";
      if (!COMPUTER_ID_PATTERN.test(computer) || !Number.isSafeInteger(Number(computer))) {
        return c.json(
          errorBody(
            "ERR_BAD_REQUEST",
            `Cannot read ${name}: query "computer" must be a positive integer computer id`,
          ),
          400,
        );
      }
      const refusal = authenticator?.checkComputer(Number(computer), `${name} request`);
      if (refusal) return c.json(refusal.body, refusal.status);
      return serveDocument(name, Number(computer));
    });
  }

  app.get(API.keyExchange, async (c) => {
    const parameters = await options.keyExchangeSalts?.parameters();
    if (!parameters) {
      return c.json(
        errorBody(
          "ERR_NOT_FOUND",
          "No relay on the way to the server authenticates: register without a password",
        ),
        404,
      );
    }
    return c.json(parameters, 200, { "cache-control": "no-store" });
  });

  app.post(API.register, limitBody(MAX_REGISTRATION_BYTES, "registration"), async (c) => {
    const received = await readBody(c, MAX_REGISTRATION_BYTES, "registration");
    const source = remoteAddress(c);
    const admission = authenticator
      ? await authenticator.admitRegistration(received, source)
      : null;
    if (admission && "refusal" in admission) {
      const refusal = admission.refusal;
      const headers: Record<string, string> = "retryAfterSeconds" in refusal
        ? { "retry-after": String(refusal.retryAfterSeconds) }
        : {};
      return c.json(refusal.body, refusal.status, headers);
    }
    // The proof, and this relay's voucher, go on only to an authenticating parent: it checks the
    // proof against its own passwords, or trusts the voucher's key (for the client's address,
    // and, from an authenticating relay, for the admission).
    let body: string | Uint8Array<ArrayBuffer> = received;
    const parentAuthenticates = await parentCapabilities.authenticating();
    if (admission && !parentAuthenticates) {
      body = admission.body;
    } else if (parentAuthenticates && options.vouch) {
      try {
        body = await vouchedBody(received, options.vouch, {
          admitted: admission !== null,
          source: admission ? admission.source : source,
        });
      } catch (error) {
        await admission?.settle(null); // a one-time password is given back
        throw error;
      }
    }
    let answer;
    try {
      answer = await upstream.fetchJson(API.register, {
        method: "POST",
        body,
        headers: JSON_HEADERS,
        redirect: "manual",
        timeoutMs: registrationTimeoutMs,
        maxBytes: MAX_DOCUMENT_BYTES,
      });
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) throw error;
      await admission?.settle(null);
      log.warn("cannot forward registration", { reason: describeUnreachable(error) });
      return c.json(
        errorBody(
          "ERR_PARENT_UNREACHABLE",
          "Cannot register: the relay's parent does not answer; try again later",
        ),
        503,
      );
    }
    // An authenticating relay admits the client now (or gives a one-time password back).
    const refusal = await admission?.settle(answer);
    if (refusal) return c.json(refusal.body, refusal.status);
    // Only answers a client acts on pass: a success with a body, or an error it can show.
    const passes = answer.status === 200 || answer.status === 201 ||
      (answer.status >= 400 && answer.status < 600);
    if (answer.body === null || !passes) {
      log.warn("parent answered a registration unusably", {
        status: answer.status,
      });
      return c.json(
        errorBody(
          "ERR_PARENT_BAD_ANSWER",
          "Cannot register: the relay's parent gave an unusable answer; try again later",
        ),
        502,
      );
    }
    // This relay took the proof, a relay above did not: say where the chain broke.
    const parentCode = errorCodeOf(answer.body);
    if (
      admission && answer.status === 403 &&
      (parentCode === "ERR_KEY_EXCHANGE_FAILED" || parentCode === "ERR_KEY_EXCHANGE_REQUIRED")
    ) {
      const said = (answer.body as { error?: { message?: unknown } }).error?.message;
      return c.json(
        errorBody(
          "ERR_KEY_EXCHANGE_FAILED",
          "Cannot complete the key exchange: this relay took the password, but the " +
            `authenticating relay above it refused it (${
              typeof said === "string" ? said.slice(0, 300) : parentCode
            }); relays in a chain admit a client only with a password each of them knows, so ` +
            "ask their operators to give them the same one",
        ),
        403,
      );
    }
    // Registered (again) through here: whatever the parent refused this computer before is past.
    const registered = (answer.body as { computerId?: unknown }).computerId;
    if ((answer.status === 200 || answer.status === 201) && Number.isSafeInteger(registered)) {
      refusals?.forget(registered as number);
    }
    // A busy parent's "come back later" reaches the client: it waits as long as asked.
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { ...JSON_HEADERS, ...retryAfterOf(answer) },
    });
  });

  /**
   * What this relay answers one report: checked, spooled durably, 202; or a refusal. The one
   * path of a report sent alone and of each envelope of a child relay's batch.
   */
  const acceptReport = async (
    bytes: Uint8Array,
    source: string | null,
  ): Promise<ReportBatchResult & { headers?: Record<string, string> }> => {
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(bytes));
    } catch {
      return refused(400, "ERR_ENVELOPE_MALFORMED", "Cannot read report: body is not UTF-8 JSON");
    }
    let parsed;
    try {
      parsed = readUpstreamMessage(value);
    } catch (error) {
      if (!(error instanceof MleError)) throw error;
      // A header failure is deliberately opaque (RFC 7516 §11.5): say no more than the code.
      const message = error.code === "ERR_DECRYPTION_FAILED"
        ? "Cannot read envelope header"
        : error.message;
      return refused(400, wireCodeOf(error.code), message);
    }
    // Who sent it comes before what it is: a refused sender learns nothing else.
    const refusal = authenticator
      ? await authenticator.checkReport(parsed, source)
      : revocations?.refusalFor(parsed.claims.cid) ?? null;
    if (refusal) return { status: refusal.status, body: refusal.body };
    // An authenticating relay checked the signature already; others check what they know.
    const forgery = authenticator
      ? null
      : await refuseForgery(options.senderKeys, { what: "report", message: parsed });
    if (forgery) {
      log.warn("report refused: sender signature not valid", { cid: parsed.claims.cid });
      return { status: forgery.status, body: forgery.body };
    }
    // The parent refused this sender for good lately: its own answer, now, not a 202 in vain.
    const upstream = refusals?.refusalFor(parsed.claims.cid);
    if (upstream) return { status: upstream.status, body: upstream.body };
    if (parsed.kind === "encrypted" && !acceptsEncryptedReports) {
      return refused(
        415,
        "ERR_ENCRYPTION_NOT_SUPPORTED",
        "This relay does not accept encrypted reports; send through another relay, or " +
          "(encryption level optional) send in clear text",
      );
    }
    // The exact bytes received: a signature covers them, and re-serializing could alter them.
    let id;
    try {
      id = await spool.put(bytes, parsed.claims.cid);
    } catch (error) {
      const answer = spoolRefusal(error);
      log.warn("spool full; report refused for now", { cid: parsed.claims.cid, of: answer.of });
      return answer;
    }
    forwarder.wake();
    log.debug("report spooled", {
      id,
      cid: parsed.claims.cid,
      seq: parsed.claims.seq,
      kind: parsed.kind,
    });
    return { status: 202, body: { status: "accepted" } };
  };

  app.post(API.reports, limitBody(MAX_REPORT_MESSAGE_BYTES, "report"), async (c) => {
    // A full spool refuses before reading anything: a flood costs this relay little.
    if (spool.isFull()) {
      await c.req.raw.body?.cancel().catch(() => {});
      return answer(spoolFull("spool"));
    }
    const bytes = await readBody(c, MAX_REPORT_MESSAGE_BYTES, "report");
    return answer(await acceptReport(bytes, remoteAddress(c)));
  });

  // A child relay's batch: each envelope checked and spooled as if its client sent it here
  // (their puts share the spool's group commit), each answered as it would be alone.
  app.post(API.reportBatch, limitBody(MAX_REPORT_BATCH_BYTES, "report batch"), async (c) => {
    if (spool.isFull()) {
      await c.req.raw.body?.cancel().catch(() => {});
      return answer(spoolFull("spool"));
    }
    const bytes = await readBody(c, MAX_REPORT_BATCH_BYTES, "report batch");
    let envelopes: Uint8Array[];
    try {
      envelopes = decodeReportBatch(bytes);
    } catch (error) {
      if (!(error instanceof MleError)) throw error;
      return c.json(
        errorBody("ERR_BATCH_MALFORMED", `${error.message}; send each report alone instead`),
        400,
      );
    }
    const source = remoteAddress(c);
    const results = await Promise.all(
      envelopes.map(async (envelope) => {
        const { status, body } = await acceptReport(envelope, source);
        return { status, body };
      }),
    );
    return c.json({ results } satisfies ReportBatchAnswer);
  });

  // A known path asked with another method: say which ones it takes.
  const methods: Record<string, string> = {
    [API.capabilities]: "GET, HEAD",
    [API.keyExchange]: "GET, HEAD",
    [API.masthead]: "GET, HEAD",
    [API.encryptionCertificate]: "GET, HEAD",
    [API.revocations]: "GET, HEAD",
    [API.settings]: "GET, HEAD",
    [API.rotationDirective]: "GET, HEAD",
    [API.register]: "POST",
    [API.reports]: "POST",
    [API.reportBatch]: "POST",
  };
  for (const [path, allow] of Object.entries(methods)) {
    app.all(path, (c) =>
      c.json(
        errorBody("ERR_METHOD_NOT_ALLOWED", `Cannot ${c.req.method} ${path}: use ${allow}`),
        405,
        { allow },
      ));
  }

  app.notFound((c) =>
    c.json(errorBody("ERR_NOT_FOUND", "Cannot find this path: see the relay's API paths"), 404)
  );

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (isStorageFull(error)) {
      log.warn("disk full: request refused with 503", { method: c.req.method, path: c.req.path });
      const full = storageFullAnswer();
      return c.json(full.body, full.status, full.headers);
    }
    const requestId = currentRequestId() ?? newRequestId();
    log.error("unexpected failure", {
      requestId,
      method: c.req.method,
      path: c.req.path,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return c.json(
      errorBody(
        "ERR_INTERNAL",
        `Cannot handle the request: unexpected failure (request id ${requestId}); try again later`,
      ),
      500,
      { "x-request-id": requestId },
    );
  });

  if (options.uploads) app.route(API.uploads, options.uploads);

  return app;
}

/** A report's answer as a response. */
function answer(result: ReportBatchResult & { headers?: Record<string, string> }): Response {
  return new Response(JSON.stringify(result.body), {
    status: result.status,
    headers: { ...JSON_HEADERS, ...result.headers },
  });
}

function refused(status: number, code: WireErrorCode, message: string): ReportBatchResult {
  return { status, body: errorBody(code, message) };
}

/**
 * The one mapping of a failed `spool.put` to the answer a sender gets (the place for a full
 * disk, too); anything unexpected is rethrown, to the 500 with a request id.
 */
function spoolRefusal(error: unknown): ReturnType<typeof spoolFull> {
  if (error instanceof SpoolFullError) return spoolFull(error.scope);
  throw error;
}

/** The answer to a report the spool has no room for: the sender keeps it and tries later. */
function spoolFull(scope: SpoolFullError["scope"]) {
  return {
    of: scope,
    status: 503,
    body: errorBody(
      "ERR_SPOOL_FULL",
      scope === "spool"
        ? "Cannot accept report now: this relay's spool is full while its parent catches up; " +
          `keep the report queued and retry in ${SPOOL_FULL_RETRY_AFTER_SECONDS} s`
        : "Cannot accept report now: this computer's reports fill its share of this relay's " +
          `spool; keep the report queued and retry in ${SPOOL_FULL_RETRY_AFTER_SECONDS} s`,
    ),
    headers: { "retry-after": String(SPOOL_FULL_RETRY_AFTER_SECONDS) },
  };
}

/** The parent's `Retry-After` to pass on, when it is one (a delay in seconds or a date). */
function retryAfterOf(answer: { retryAfter?: string }): Record<string, string> {
  const value = answer.retryAfter?.trim();
  return value !== undefined && parseRetryAfter(value) !== null ? { "retry-after": value } : {};
}

/** The sender's IP address, when served by `Deno.serve`. */
function remoteAddress(c: Context): string | null {
  return (c.env as Deno.ServeHandlerInfo<Deno.NetAddr> | undefined)?.remoteAddr?.hostname ?? null;
}

/**
 * The registration with this relay's voucher in place of any it came with; unchanged when it is
 * not a JSON object with the JWS members (the parent refuses it then).
 */
async function vouchedBody(
  received: Uint8Array<ArrayBuffer>,
  vouch: NonNullable<RelayAppOptions["vouch"]>,
  statement: VoucherStatement,
): Promise<string | Uint8Array<ArrayBuffer>> {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(decoder.decode(received));
  } catch {
    return received;
  }
  if (
    typeof value !== "object" || value === null || typeof value.protected !== "string" ||
    typeof value.payload !== "string"
  ) {
    return received;
  }
  value.relayVoucher = await vouch(value as unknown as FlattenedJws, statement);
  return JSON.stringify(value);
}

/**
 * Refuses a body whose declared length is too large before reading any of it, and counts the
 * bytes of one without a declared length (hono's `bodyLimit`).
 */
function limitBody(maxSize: number, what: string) {
  return bodyLimit({ maxSize, onError: () => tooLarge(maxSize, what) });
}

/**
 * Reads the body, never holding more than `maxSize` + 1 bytes: `bodyLimit` trusts a declared
 * length, and a declared length can lie.
 */
async function readBody(
  c: Context,
  maxSize: number,
  what: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = await readBounded(c.req.raw.body, maxSize);
  if (bytes === null) tooLarge(maxSize, what);
  return bytes;
}

function tooLarge(maxSize: number, what: string): never {
  const status: ContentfulStatusCode = 413;
  throw new HTTPException(status, {
    res: new Response(
      JSON.stringify(
        errorBody(
          "ERR_TOO_LARGE",
          `Cannot accept ${what}: larger than ${maxSize} bytes`,
        ),
      ),
      { status, headers: JSON_HEADERS },
    ),
  });
}
