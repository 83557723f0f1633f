/**
 * `mle-relay run`'s upload options, and the upload buffer, forwarder and routes built from them.
 *
 * @module
 */

import type { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { readInteger, readSize } from "../cli/flags.ts";
import {
  DEFAULT_RELAY_BUFFER_MAX_BYTES,
  MIN_CHUNK_SIZE,
  RELAY_BUFFER_SETTING,
} from "../protocol/upload.ts";
import type { KnownSenderKeys } from "./sender_keys.ts";
import { createRelayUploadApp } from "./upload_app.ts";
import { UploadBuffer } from "./upload_buffer.ts";
import { UploadForwarder } from "./upload_forwarder.ts";
import type { ParentSource } from "./upstream.ts";

/** The `parseArgs` declarations of the upload options. */
export const UPLOAD_RUN_OPTIONS = {
  "upload-buffer-max-size": { type: "string" },
  "upload-throttle-kbps": { type: "string" },
} as const;

/** Help lines of the upload options. */
export const UPLOAD_RUN_HELP = `  --upload-buffer-max-size SIZE
                          most bytes the upload buffer folder holds (default 10G; env
                          ${RELAY_BUFFER_SETTING});
                          when full, clients are told to retry later and nothing is dropped
  --upload-throttle-kbps N
                          upload throttle advertised to clients, KiB/s (default 0 = none)`;

/** The relay's upload settings. */
export interface RelayUploadSettings {
  bufferMaxBytes: number;
  throttleKBPS: number;
}

/**
 * Reads the upload options (flags first, then the environment, then defaults).
 *
 * @throws {UsageError} For a malformed size or number.
 */
export function parseUploadRunArgs(
  values: Record<string, unknown>,
  env: (name: string) => string | undefined,
): RelayUploadSettings {
  const bufferMaxBytes = readSize(
    "upload-buffer-max-size",
    (values["upload-buffer-max-size"] as string | undefined) ?? env(RELAY_BUFFER_SETTING) ??
      env("MLE_RELAY_UPLOAD_BUFFER_MAX_SIZE"),
    DEFAULT_RELAY_BUFFER_MAX_BYTES,
    { min: 4 * MIN_CHUNK_SIZE },
  );
  const throttleKBPS = readInteger(
    "upload-throttle-kbps",
    values["upload-throttle-kbps"] as string | undefined,
    0,
    { min: 0, max: 999_999_999, unit: "KiB/s" },
  );
  return { bufferMaxBytes, throttleKBPS };
}

/** The relay's upload path. */
export interface RelayUploads {
  buffer: UploadBuffer;
  forwarder: UploadForwarder;
  app: Hono;
}

/** Opens the upload buffer of a data dir and builds its forwarder and routes. */
export async function openRelayUploads(options: {
  dataDir: string;
  parentUrl: ParentSource;
  log: Logger;
  acceptsEncrypted: boolean;
  concurrency: number | undefined;
  settings?: RelayUploadSettings;
  /** Who may upload through this relay (revocation list, key exchange). */
  admit?: (computerId: number) => { status: 400 | 403; body: unknown } | null;
  /** The senders' keys this relay knows: forged manifests are refused. */
  senderKeys?: KnownSenderKeys;
}): Promise<RelayUploads> {
  const settings = options.settings ??
    { bufferMaxBytes: DEFAULT_RELAY_BUFFER_MAX_BYTES, throttleKBPS: 0 };
  const buffer = await UploadBuffer.open(options.dataDir, { maxBytes: settings.bufferMaxBytes });
  const forwarder = new UploadForwarder({
    buffer,
    parentUrl: options.parentUrl,
    log: options.log,
    concurrency: options.concurrency,
  });
  const app = createRelayUploadApp({
    buffer,
    forwarder,
    parentUrl: options.parentUrl,
    acceptsEncrypted: options.acceptsEncrypted,
    throttleKBPS: settings.throttleKBPS,
    log: options.log,
    admit: options.admit,
    senderKeys: options.senderKeys,
  });
  return { buffer, forwarder, app };
}
