/**
 * The relay's upload routes, a Hono sub-app mounted at `/api/v1/uploads`: the same exchange as
 * the server's (`protocol/upload.ts`), answered from the buffer folder and the parent.
 *
 * - Limits: the stricter of this relay's and its parent's.
 * - Manifest: checked for shape, and for its sender's signature when this relay knows the
 *   sender's key (an authenticating relay knows every admitted client's: a forgery gets 403 and
 *   nothing is stored), stored, and posted to the parent at once when it answers, so that a
 *   refusal (quota, unknown computer) reaches the client now; otherwise forwarded later.
 * - Chunks go only to uploads whose manifest this relay took (and, knowing the sender's key,
 *   verified: a manifest buffered by an earlier run is verified before its first chunk).
 * - Chunks: checked for length, then passed straight to the parent when it takes them at once
 *   (cut-through, `UploadForwarder.forwardNow`) and acknowledged with 200 and the parent's
 *   answer; otherwise (the parent away, busy, or refusing) stored in the buffer, acknowledged
 *   with 202 and forwarded later. A chunk is acknowledged only once the parent or the buffer has
 *   it; room in the buffer is reserved before its body is read, so a full buffer refuses it
 *   first, with 503 and `Retry-After`. Never decrypted, so a decrypting relay passes uploads
 *   through encrypted exactly like any other.
 * - Status: what the parent holds (asked live) plus what waits here.
 * - A failure (a full disk: 503 `ERR_STORAGE_FULL`; anything else: 500 with a request id) is
 *   answered by the relay app it is mounted in (`relay/app.ts`), as for every other route.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Logger, silentLogger } from "../cli/log.ts";
import { MleError } from "../envelope/errors.ts";
import {
  type ParsedUploadManifest,
  readUploadManifestMessage,
} from "../envelope/upload_manifest.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { errorBody } from "../protocol/http_error.ts";
import { isWireErrorCode, type WireErrorCode } from "../protocol/wire_error_codes.ts";
import {
  checkClaims,
  chunkOverhead,
  MAX_CHUNK_SIZE,
  MAX_MANIFEST_MESSAGE_BYTES,
  MAX_STATUS_RANGES,
  MIN_CHUNK_SIZE,
  parseChunkPath,
  readUploadLimits,
  RETRY_LATER_CODE,
  stricterLimits,
  type UploadLimits,
  type UploadStatus,
} from "../protocol/upload.ts";
import { declaredLength, readRequestBody } from "../protocol/read_bounded.ts";
import { releaseBytes } from "../protocol/release_bytes.ts";
import { fetchUploadAnswer, readExactBody } from "../protocol/upload_fetch.ts";
import { API } from "../protocol/paths.ts";
import { type ParentSource, Upstream } from "./upstream.ts";
import { type KnownSenderKeys, refuseForgery } from "./sender_keys.ts";
import type { BufferedUpload, UploadBuffer } from "./upload_buffer.ts";
import type { UploadForwarder } from "./upload_forwarder.ts";

/** What the relay's upload routes are built from. */
export interface RelayUploadOptions {
  buffer: UploadBuffer;
  forwarder: UploadForwarder;
  parentUrl: ParentSource;
  /** Whether encrypted uploads are taken (as for reports). */
  acceptsEncrypted: boolean;
  /** This relay's own throttle advertised to clients, KiB/s (0: none). */
  throttleKBPS: number;
  log?: Logger;
  /** Bytes of chunk bodies held in memory at once (default 32 MiB). */
  memoryBudgetBytes?: number;
  /**
   * Who may upload through this relay: the refusal for a computer (revoked; at an authenticating
   * relay, not admitted by the key exchange), or null. Checked before anything is stored.
   */
  admit?: (computerId: number) => { status: 400 | 403; body: unknown } | null;
  /** The senders' keys this relay knows: manifests not signed with them are refused. */
  senderKeys?: KnownSenderKeys;
}

const RETRY_AFTER_SECONDS = 1;
const LIMITS_CACHE_MS = 30_000;
/** How long a manifest post waits for the parent before answering from the buffer. */
const MANIFEST_WAIT_MS = 10_000;

/**
 * Creates the relay's upload routes.
 *
 * @example
 * ```ts ignore
 * app.route(API.uploads, createRelayUploadApp({ buffer, forwarder, parentUrl, acceptsEncrypted: true, throttleKBPS: 0 }));
 * ```
 */
export function createRelayUploadApp(options: RelayUploadOptions): Hono {
  const { buffer, forwarder } = options;
  const log = options.log ?? silentLogger;
  const budget = options.memoryBudgetBytes ?? 32 * 1024 * 1024;
  const upstream = Upstream.of(options.parentUrl);
  const own: UploadLimits = {
    maxChunkBytes: Math.max(
      MIN_CHUNK_SIZE,
      Math.min(MAX_CHUNK_SIZE, Math.floor(buffer.maxBytes / 4)),
    ),
    throttleKBPS: options.throttleKBPS,
  };
  let parentLimits: { limits: UploadLimits; at: number } | null = null;
  let inMemory = 0;
  /** Uploads whose manifest was checked against the sender's known key in this run. */
  const checked = new WeakSet<BufferedUpload>();

  /** The forgery refusal for a buffered upload's manifest (checked once per run), or null. */
  const forgedUpload = async (upload: BufferedUpload) => {
    if (!options.senderKeys || checked.has(upload)) return null;
    const bytes = await buffer.readManifest(upload);
    const message = readUploadManifestMessage(JSON.parse(decodeUtf8(bytes)));
    const refusal = await refuseForgery(options.senderKeys, { what: "upload manifest", message });
    if (refusal === null) checked.add(upload);
    return refusal;
  };

  const app = new Hono();

  app.get("/", async (c) => {
    if (parentLimits === null || Date.now() - parentLimits.at > LIMITS_CACHE_MS) {
      try {
        const answer = await upstream.request(
          API.uploads,
          (url) => fetchUploadAnswer(url, { maxBytes: 4096, timeoutMs: 5_000 }),
        );
        if (answer.status === 200) {
          parentLimits = { limits: readUploadLimits(answer.body), at: Date.now() };
        }
      } catch {
        // The parent is away: this relay's own limits (and the last known parent's) apply.
      }
    }
    return c.json(parentLimits ? stricterLimits(own, parentLimits.limits) : own);
  });

  app.post("/", async (c) => {
    const bytes = await readRequestBody(c.req.raw, MAX_MANIFEST_MESSAGE_BYTES);
    if (bytes === null) {
      return fail(
        c,
        413,
        "ERR_TOO_LARGE",
        `Cannot accept a manifest over ${MAX_MANIFEST_MESSAGE_BYTES} bytes`,
      );
    }
    let parsed: ParsedUploadManifest;
    try {
      parsed = readUploadManifestMessage(JSON.parse(decodeUtf8(bytes)));
    } catch (error) {
      if (error instanceof MleError || error instanceof SyntaxError || error instanceof TypeError) {
        return fail(c, 400, "ERR_ENVELOPE_MALFORMED", "Cannot read upload manifest");
      }
      throw error;
    }
    const { claims } = parsed;
    const problem = checkClaims({ ...claims });
    if (problem) {
      return fail(c, 400, "ERR_ENVELOPE_MALFORMED", `Cannot read upload manifest: ${problem}`);
    }
    const refusal = options.admit?.(claims.cid);
    if (refusal) return c.json(refusal.body, refusal.status);
    const forgery = await refuseForgery(options.senderKeys, {
      what: "upload manifest",
      message: parsed,
    });
    if (forgery) {
      log.warn("upload manifest refused: sender signature not valid", { cid: claims.cid });
      return c.json(forgery.body, forgery.status);
    }
    if (claims.kid !== null && !options.acceptsEncrypted) {
      return fail(
        c,
        415,
        "ERR_ENCRYPTION_NOT_SUPPORTED",
        "This relay does not accept encrypted uploads; send through another relay, or " +
          "(encryption level optional) send in clear text",
      );
    }
    const put = await buffer.putManifest(bytes, claims);
    if (put.kind === "conflict") {
      return fail(
        c,
        409,
        "ERR_UPLOAD_CONFLICT",
        `Cannot accept upload ${claims.uid}: another manifest has this id`,
      );
    }
    if (put.kind === "full") {
      return retryLater(c, "This relay tracks too many uploads now; retry later");
    }
    const upload = put.upload;
    checked.add(upload);
    if (!upload.manifestDelivered && !upload.refused) {
      await forwarder.deliverManifest(upload, MANIFEST_WAIT_MS);
    }
    return await answerStatus(c, upload);
  });

  app.get("/:cid/:uid", async (c) => {
    const path = parseChunkPath(c.req.param("cid"), c.req.param("uid"));
    if (!path) return badPath(c);
    const upload = buffer.get(path.cid, path.uid);
    if (!upload) {
      return fail(
        c,
        404,
        "ERR_UNKNOWN_UPLOAD",
        `Upload ${path.uid} is not known here; post its manifest first`,
      );
    }
    return await answerStatus(c, upload);
  });

  app.put("/:cid/:uid/:index", async (c) => {
    const path = parseChunkPath(c.req.param("cid"), c.req.param("uid"), c.req.param("index"));
    if (!path) return badPath(c);
    const upload = buffer.get(path.cid, path.uid);
    const body = c.req.raw.body;
    const refused = options.admit?.(path.cid);
    if (refused) {
      await body?.cancel().catch(() => {});
      return c.json(refused.body, refused.status);
    }
    if (!upload) {
      await body?.cancel().catch(() => {});
      return fail(
        c,
        404,
        "ERR_UNKNOWN_UPLOAD",
        `Upload ${path.uid} is not known here; post its manifest first`,
      );
    }
    if (upload.refused) {
      await body?.cancel().catch(() => {});
      return refusal(c, upload);
    }
    const forgery = await forgedUpload(upload);
    if (forgery) {
      await body?.cancel().catch(() => {});
      log.warn("chunk refused: its upload's manifest is not signed by its sender", {
        cid: upload.cid,
      });
      return c.json(forgery.body, forgery.status);
    }
    if (upload.complete || upload.chunks.has(path.index)) {
      await body?.cancel().catch(() => {});
      return c.json({ result: "duplicate", uploadId: upload.uid }, 200);
    }
    const { index } = path;
    if (index >= upload.chunkCount) {
      return fail(
        c,
        400,
        "ERR_CHUNK_INVALID",
        `Cannot accept chunk ${index}: the upload has ${upload.chunkCount}`,
      );
    }
    const overhead = chunkOverhead(upload.encrypted);
    const final = index === upload.chunkCount - 1;
    const max = upload.chunkSize + overhead;
    // The declared length must fit exactly: the HTTP framing then bounds the body to it.
    const length = declaredLength(c.req.header("content-length"));
    if (length === null || (final ? length < overhead || length > max : length !== max)) {
      await body?.cancel().catch(() => {});
      return fail(
        c,
        400,
        "ERR_CHUNK_INVALID",
        `Cannot accept chunk ${index}: expected a Content-Length of ${
          final ? `at most ${max}` : max
        } bytes`,
      );
    }
    if (inMemory + length > budget && inMemory > 0) {
      await body?.cancel().catch(() => {});
      return retryLater(c, "This relay is busy; retry shortly");
    }
    if (!buffer.reserve(length)) {
      await body?.cancel().catch(() => {});
      return retryLater(c, "This relay's upload buffer is full; retry later");
    }
    // The reservation and the memory budget cover the chunk until the parent took it or the
    // buffer holds it: the buffer always has room for a chunk the parent did not take.
    inMemory += length;
    try {
      const bytes = await readExactBody(body, length);
      if (bytes === null) {
        return fail(c, 400, "ERR_CHUNK_INVALID", `Cannot accept chunk ${index}: wrong length`);
      }
      try {
        const forwarded = await forwarder.forwardNow(upload, index, bytes);
        if (forwarded.kind === "taken") return c.json(takenAnswer(upload, forwarded.body), 200);
        buffer.putChunk(upload, index, bytes);
      } finally {
        releaseBytes(bytes);
      }
    } finally {
      inMemory -= length;
      buffer.release(length);
    }
    forwarder.wake();
    return c.json({ result: "buffered", uploadId: upload.uid }, 202);
  });

  /** Answers an upload's status: the parent's (asked now) merged with what waits here. */
  async function answerStatus(c: Context, upload: BufferedUpload): Promise<Response> {
    if (upload.refused) return refusal(c, upload);
    if (upload.complete) return c.json(statusOf(upload, "complete", null));
    let parent: UploadStatus | null = null;
    let known = !upload.manifestDelivered;
    if (upload.manifestDelivered) {
      const answer = await forwarder.parentStatus(upload);
      if (answer === "unknown-upload") {
        await buffer.setManifestDelivered(upload, false);
        forwarder.wake();
        known = true;
      } else if (answer !== null) {
        known = true;
        parent = answer;
        if (answer.state === "complete") {
          await buffer.complete(upload);
          return c.json(statusOf(upload, "complete", null));
        }
        if (answer.state === "failed" || answer.state === "refused") {
          await buffer.refuse(upload, {
            status: 409,
            code: isWireErrorCode(answer.error?.code) ? answer.error.code : "ERR_UPLOAD_FAILED",
            message: answer.error?.message ?? "the upload failed upstream",
          });
          return refusal(c, upload);
        }
      }
    }
    return c.json(merge(upload, parent, known));
  }

  return app;
}

/** The status of an upload as seen through this relay. */
function merge(upload: BufferedUpload, parent: UploadStatus | null, known: boolean): UploadStatus {
  const upstreamMissing: Array<[number, number]> = parent
    ? parent.missing
    : [[0, upload.chunkCount]];
  const missing: Array<[number, number]> = [];
  let truncated = parent?.missingTruncated ?? false;
  let bufferedMissingUpstream = 0;
  for (const [start, end] of upstreamMissing) {
    let runStart = -1;
    for (let index = start; index < end; index++) {
      const here = upload.chunks.has(index);
      if (here) bufferedMissingUpstream++;
      if (!here && runStart < 0) runStart = index;
      if ((here || index === end - 1) && runStart >= 0) {
        const runEnd = here ? index : end;
        if (missing.length < MAX_STATUS_RANGES) missing.push([runStart, runEnd]);
        else truncated = true;
        runStart = -1;
      }
    }
  }
  const upstreamHeld = parent ? parent.received : 0;
  return {
    uploadId: upload.uid,
    computerId: upload.cid,
    state: "receiving",
    chunkCount: upload.chunkCount,
    received: Math.min(upload.chunkCount, upstreamHeld + bufferedMissingUpstream),
    stored: parent ? parent.stored : (known ? 0 : null),
    missing,
    missingTruncated: truncated,
    error: null,
  };
}

/**
 * The answer to a chunk the parent took at once: the parent's own answer (a server's says
 * "stored" or "duplicate", with the upload's state), or "forwarded" when it gave none to pass on.
 */
function takenAnswer(upload: BufferedUpload, parentAnswer: unknown): Record<string, unknown> {
  const parent = typeof parentAnswer === "object" && parentAnswer !== null &&
      !Array.isArray(parentAnswer)
    ? parentAnswer as Record<string, unknown>
    : {};
  return { result: "forwarded", ...parent, uploadId: upload.uid };
}

function statusOf(
  upload: BufferedUpload,
  state: "complete",
  error: UploadStatus["error"],
): UploadStatus {
  return {
    uploadId: upload.uid,
    computerId: upload.cid,
    state,
    chunkCount: upload.chunkCount,
    received: upload.chunkCount,
    stored: upload.chunkCount,
    missing: [],
    missingTruncated: false,
    error,
  };
}

function refusal(c: Context, upload: BufferedUpload): Response {
  const refused = upload.refused!;
  const status =
    (refused.status >= 400 && refused.status < 500 ? refused.status : 409) as ContentfulStatusCode;
  return c.json(errorBody(refused.code, refused.message), status);
}

function fail(
  c: Context,
  status: ContentfulStatusCode,
  code: WireErrorCode,
  message: string,
): Response {
  return c.json(errorBody(code, message), status);
}

function retryLater(c: Context, message: string): Response {
  return c.json(errorBody(RETRY_LATER_CODE, message), 503, {
    "retry-after": String(RETRY_AFTER_SECONDS),
  });
}

function badPath(c: Context): Response {
  return fail(
    c,
    400,
    "ERR_BAD_REQUEST",
    "Expected /api/v1/uploads/<computer id>/<32 hex digit upload id>[/<chunk index>]",
  );
}
