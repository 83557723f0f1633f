/**
 * The server's upload routes, a Hono sub-app mounted at `/api/v1/uploads` (`protocol/upload.ts`
 * describes the exchange): limits, manifest, status, chunks.
 *
 * @module
 */

import { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { internalErrorAnswer } from "../ops/internal_error_answer.ts";
import { errorBody } from "../protocol/http_error.ts";
import { isStorageFull, storageFullAnswer } from "../protocol/storage_full.ts";
import { MAX_MANIFEST_MESSAGE_BYTES, parseChunkPath } from "../protocol/upload.ts";
import { declaredLength } from "../protocol/read_bounded.ts";
import { readDeclaredBody } from "../protocol/upload_fetch.ts";
import { IngestError, readBodyWithin } from "./ingest_error.ts";
import type { UploadIngest } from "./upload_ingest.ts";

/** Seconds a 503 asks the sender to wait. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Creates the upload routes over an {@linkcode UploadIngest}.
 *
 * @example
 * ```ts ignore
 * app.route(API.uploads, createUploadApp(await UploadIngest.open(options), log));
 * ```
 */
export function createUploadApp(ingest: UploadIngest, log: Logger): Hono {
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof IngestError) {
      // A 503 always says when to come back, even from a path that did not say.
      const headers = error.status === 503 && error.retryAfterSeconds === null
        ? { "retry-after": String(RETRY_AFTER_SECONDS) }
        : error.headers;
      return c.json(errorBody(error.code, error.message), error.status, headers);
    }
    if (isStorageFull(error)) {
      log.warn("disk full: upload request refused with 503", { path: c.req.path });
      const full = storageFullAnswer();
      return c.json(full.body, full.status, full.headers);
    }
    return internalErrorAnswer(c, error, log, "upload request failed");
  });

  app.get("/", (c) => c.json(ingest.limits()));

  app.post(
    "/",
    async (c) => {
      const body = await readBodyWithin(c.req.raw, MAX_MANIFEST_MESSAGE_BYTES, "manifest");
      return c.json(await ingest.acceptManifest(body));
    },
  );

  app.get("/:cid/:uid", async (c) => {
    const path = parseChunkPath(c.req.param("cid"), c.req.param("uid"));
    if (!path) throw badPath();
    return c.json(await ingest.status(path.cid, path.uid));
  });

  app.put("/:cid/:uid/:index", async (c) => {
    const path = parseChunkPath(c.req.param("cid"), c.req.param("uid"), c.req.param("index"));
    if (!path) throw badPath();
    const length = declaredLength(c.req.header("content-length"));
    const answer = await ingest.acceptChunk({
      ...path,
      declaredLength: length,
      readBody: async () => (await readDeclaredBody(c.req.raw, length ?? 0)) ?? new Uint8Array(0),
    });
    return c.json(answer);
  });

  return app;
}

function badPath(): IngestError {
  return new IngestError(
    400,
    "ERR_BAD_REQUEST",
    "Expected /api/v1/uploads/<computer id>/<32 hex digit upload id>[/<chunk index>]",
  );
}
