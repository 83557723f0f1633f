/**
 * Downloading a computer's stored upload from the console:
 * `GET /computers/ID/uploads/UPLOAD_ID/file`, admins only (a viewer sees the list but gets 403
 * `ERR_FORBIDDEN_ROLE`: a file may hold anything the computer had). The file is streamed from
 * `uploads/ID/<stored name>` (`server/upload_store.ts`); links are never followed: the computer's
 * folder and the file must be real (`lstat`), and the opened file must be the one checked (same
 * device and inode) and have the recorded size. Every download is audit-logged with who and which
 * file.
 *
 * @module
 */

import { Hono } from "hono";
import { joinPath } from "../../keystore/secure_file.ts";
import { errorBody } from "../../protocol/http_error.ts";
import type { UploadRecord } from "../../store/upload_records.ts";
import type { ConsoleDeps, ConsoleEnv } from "./console_env.ts";

const UPLOAD_ID = /^[0-9a-f]{32}$/;

/**
 * The `Content-Disposition` of a download: always `attachment`, an ASCII `filename` with anything
 * but letters, digits and `._-()` replaced, and the exact name as RFC 5987 `filename*`.
 *
 * @example
 * ```ts
 * import { attachmentDisposition } from "./upload_downloads.ts";
 * console.log(attachmentDisposition('a"b.txt')); // attachment; filename="a_b.txt"; filename*=UTF-8''a%22b.txt
 * ```
 */
export function attachmentDisposition(name: string): string {
  const ascii = name.replace(/[^A-Za-z0-9._()-]/g, "_").slice(0, 200) || "upload";
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/** The download route, mounted under `/computers`. */
export function uploadDownloads(deps: ConsoleDeps): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  const notFound = (message: string) =>
    new Response(JSON.stringify(errorBody("ERR_UPLOAD_NOT_FOUND", message)), {
      status: 404,
      headers: { "Content-Type": "application/json" },
    });

  app.get("/:id{[1-9][0-9]{0,15}}/uploads/:uid/file", async (c) => {
    const session = c.get("session");
    const id = Number(c.req.param("id"));
    const uid = c.req.param("uid");
    const what = `computer ${id} upload ${UPLOAD_ID.test(uid) ? uid : "(bad id)"}`;
    if (session.role !== "admin") {
      await deps.store.appendAudit({
        at: deps.now(),
        operator: session.operator,
        action: "refused-not-admin",
        detail: `download ${what}`,
      });
      return c.json(
        errorBody(
          "ERR_FORBIDDEN_ROLE",
          `Operator "${session.operator}" is a viewer: only an admin may download uploads; ask ` +
            "an admin (mle-admin operators add NAME --role admin)",
        ),
        403,
      );
    }
    if (deps.uploads === undefined || !UPLOAD_ID.test(uid)) {
      return notFound(`Cannot download ${what}: no such upload`);
    }
    const record = await deps.uploads.records.getUpload(id, uid);
    if (record === null || record.state !== "complete" || record.storedName === null) {
      return notFound(
        `Cannot download ${what}: no such upload, or it is not complete yet; see the computer's ` +
          "uploads",
      );
    }
    const file = await openStoredFile(deps.uploads.files.computerDir(id), record);
    if (file === null) {
      return notFound(
        `Cannot download ${what}: its stored file is missing or was replaced; see mle-admin ` +
          "uploads list on the server host",
      );
    }
    await deps.store.appendAudit({
      at: deps.now(),
      operator: session.operator,
      action: "download",
      detail: `${what}: ${JSON.stringify(record.declaredName)} (${record.size} bytes, sha256 ` +
        `${record.sha256})`,
    });
    return new Response(file.readable, {
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(record.size),
        "Content-Disposition": attachmentDisposition(record.declaredName),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
      },
    });
  });
  return app;
}

/** Opens the stored file of `record`, never through a link; null when it is not as recorded. */
async function openStoredFile(dir: string, record: UploadRecord): Promise<Deno.FsFile | null> {
  const name = record.storedName!;
  if (name.includes("/") || name.includes("\\") || name === "." || name === "..") return null;
  const path = joinPath(dir, name);
  try {
    if (!(await Deno.lstat(dir)).isDirectory) return null;
    const checked = await Deno.lstat(path);
    if (!checked.isFile || checked.size !== record.size) return null;
    const file = await Deno.open(path, { read: true });
    const opened = await file.stat();
    if (opened.ino !== checked.ino || opened.dev !== checked.dev || !opened.isFile) {
      file.close();
      return null;
    }
    return file;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
