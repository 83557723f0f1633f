/**
 * `mle-server run`'s upload options, and the upload path built from them.
 *
 * @module
 */

import type { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { readInteger, readSize } from "../cli/flags.ts";
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, parseByteSize } from "../protocol/upload.ts";
import { openUploadRecordsAt, type PostgresLocation } from "../store/mod.ts";
import type { UploadRecords } from "../store/upload_records.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import type { ClearTextCheck } from "./clear_text_policy.ts";
import type { ContentKeySource } from "./content_key_source.ts";
import { createUploadApp } from "./upload_app.ts";
import { UploadIngest } from "./upload_ingest.ts";

/** The `parseArgs` declarations of the upload options. */
export const UPLOAD_OPTIONS = {
  "upload-quota-per-computer": { type: "string", default: "10G" },
  "upload-quota-total": { type: "string", default: "100G" },
  "upload-max-chunk-size": { type: "string", default: "1M" },
  "upload-throttle-kbps": { type: "string", default: "0" },
} as const;

/** Help lines of the upload options. */
export const UPLOAD_OPTIONS_HELP = `  --upload-quota-per-computer SIZE
                                 bytes one computer may have stored and received (default 10G;
                                 0 = no limit): a stored file counts its size, an upload in
                                 progress the bytes received so far; a manifest whose file does
                                 not fit, or a chunk that would pass it, is refused (413)
  --upload-quota-total SIZE      bytes all computers together may (default 100G; 0 = no limit);
                                 files are stored under DIR/uploads/<computer id>/
  --upload-max-chunk-size SIZE   largest upload chunk taken, advertised to clients (default 1M)
  --upload-throttle-kbps N       upload throttle advertised to clients, KiB/s (default 0 = none)`;

/** The server's upload path and its routes. */
export interface ServerUploads {
  ingest: UploadIngest;
  /** The upload records (the console lists a computer's uploads). */
  records: UploadRecords;
  app: Hono;
  close(): Promise<void>;
}

/**
 * Reads the upload options and opens the upload path of a data dir.
 *
 * @throws {UsageError} For a malformed size or number.
 */
export async function openServerUploads(
  values: Record<string, unknown>,
  context: {
    dataDir: string;
    /** The shared PostgreSQL database, or null/absent for the data dir's SQLite file. */
    database?: PostgresLocation | null;
    computers: ComputerDirectory;
    contentKeys: ContentKeySource;
    /** This server's name, recorded as where each upload lands. */
    serverName: string;
    log: Logger;
    isClearTextRefused?: ClearTextCheck;
  },
): Promise<ServerUploads> {
  const size = (name: keyof typeof UPLOAD_OPTIONS, bounds = {}) =>
    readSize(
      name,
      values[name] as string | undefined,
      parseByteSize(UPLOAD_OPTIONS[name].default),
      bounds,
    );
  const maxChunkBytes = size("upload-max-chunk-size", { min: MIN_CHUNK_SIZE, max: MAX_CHUNK_SIZE });
  const throttleKBPS = readInteger(
    "upload-throttle-kbps",
    values["upload-throttle-kbps"] as string | undefined,
    0,
    { min: 0, max: 999_999_999, unit: "KiB/s" },
  );
  const records = await openUploadRecordsAt(context.dataDir, context.database ?? null);
  const ingest = await UploadIngest.open({
    ...context,
    records,
    quotas: {
      perComputerBytes: size("upload-quota-per-computer"),
      totalBytes: size("upload-quota-total"),
    },
    limits: { maxChunkBytes, throttleKBPS },
  });
  return {
    ingest,
    records,
    app: createUploadApp(ingest, context.log),
    async close() {
      await ingest.close();
      records.close();
    },
  };
}
