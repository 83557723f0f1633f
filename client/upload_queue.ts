/**
 * The client's upload queue on disk: one folder per queued file, `uploads/<local id>/`, holding
 * a private snapshot of the file (`data`, mode 0600) and its state (`upload.json`).
 *
 * The snapshot is taken when the file is queued, in one streaming pass that also computes its
 * SHA-256, so memory never grows with the file. It is what makes sending safe to resume: chunk
 * `i` always has the same bytes, whatever happens to the original (a log file rotated, appended
 * to, deleted), which the deterministic chunk nonces rely on (`envelope/upload_chunk.ts`), and the
 * SHA-256 declared in the manifest is the one of what is sent. The snapshot is deleted only once
 * the server says it stored the whole file and checked its hash.
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import {
  createSecretFile,
  ensurePrivateDir,
  joinPath,
  replaceFileAtomically,
  syncDir,
} from "../keystore/secure_file.ts";
import { createSha256 } from "../protocol/incremental_sha256.ts";
import { MAX_CHUNK_COUNT, MAX_CHUNK_SIZE, MAX_DECLARED_NAME_BYTES } from "../protocol/upload.ts";

/** Where a queued upload stands, as the client knows it. */
export type QueuedUploadState = "queued" | "sending" | "complete" | "failed";

/** The manifest made for an upload, kept so that a resend is byte-identical. */
export interface MadeManifest {
  /** The upload id on the wire. */
  uid: string;
  cid: number;
  /** Server key id it is encrypted to, or null when sent in clear. */
  kid: string | null;
  chunkSize: number;
  chunkCount: number;
  /** The manifest message, JSON text, exactly as posted. */
  message: string;
  /** The raw file key, base64url (null in clear). Only ever used with this upload id. */
  fileKey: string | null;
}

/** One queued upload's state (`upload.json`). */
export interface QueuedUpload {
  v: 1;
  /** Local id: the folder's name. */
  id: string;
  /** The name sent to the server. */
  name: string;
  /** The path the file was queued from (for status only). */
  source: string;
  size: number;
  sha256: string;
  queuedAt: string;
  state: QueuedUploadState;
  manifest: MadeManifest | null;
  /** Chunks the parent acknowledged (a progress figure; the parent's status is the truth). */
  acked: number;
  /** Chunks the server itself holds, when last known. */
  stored: number | null;
  lastError: { at: string; message: string } | null;
  completedAt: string | null;
}

const ID_PATTERN = /^\d{13}-[0-9a-f]{8}$/;
const STATE_FILE = "upload.json";
const DATA_FILE = "data";
const LOCK_FILE = "lock";
const BLOCK = 1024 * 1024;

/** The upload queue folder of a client data dir. */
export class UploadQueue {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = joinPath(dataDir, "uploads");
  }

  /**
   * Queues a file: copies it into a private snapshot while hashing it, then records it.
   *
   * @throws {RangeError} When the name is empty or too long, or the file is too large.
   * @throws {TypeError} When the path is not a regular file.
   */
  async add(sourcePath: string, name: string): Promise<QueuedUpload> {
    checkName(name);
    const source = await Deno.open(sourcePath, { read: true });
    try {
      const info = await source.stat();
      if (!info.isFile) {
        throw new TypeError(`Cannot upload "${sourcePath}": it is not a regular file`);
      }
      if (info.size > MAX_CHUNK_SIZE * MAX_CHUNK_COUNT) {
        throw new RangeError(`Cannot upload "${sourcePath}": larger than the protocol allows`);
      }
      await ensurePrivateDir(this.dir);
      const id = `${Date.now()}-${crypto.getRandomValues(new Uint8Array(4)).toHex()}`;
      const folder = joinPath(this.dir, id);
      await Deno.mkdir(folder, { mode: 0o700 });
      const { size, sha256 } = await snapshot(source, joinPath(folder, DATA_FILE));
      const upload: QueuedUpload = {
        v: 1,
        id,
        name,
        source: sourcePath,
        size,
        sha256,
        queuedAt: new Date().toISOString(),
        state: "queued",
        manifest: null,
        acked: 0,
        stored: null,
        lastError: null,
        completedAt: null,
      };
      // The state file is written last: a folder without one is an unfinished add, never sent.
      await createSecretFile(joinPath(folder, STATE_FILE), JSON.stringify(upload));
      await syncDir(this.dir);
      return upload;
    } finally {
      source.close();
    }
  }

  /** Every upload with a readable state, oldest first. */
  async list(): Promise<QueuedUpload[]> {
    const uploads: QueuedUpload[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (!entry.isDirectory || !ID_PATTERN.test(entry.name)) continue;
        const upload = await this.get(entry.name);
        if (upload) uploads.push(upload);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return uploads.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** One upload's state, or null. */
  async get(id: string): Promise<QueuedUpload | null> {
    if (!ID_PATTERN.test(id)) return null;
    try {
      return JSON.parse(await Deno.readTextFile(joinPath(this.dir, id, STATE_FILE)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return null;
      throw error;
    }
  }

  /** Saves an upload's state atomically. */
  async save(upload: QueuedUpload): Promise<void> {
    await replaceFileAtomically(joinPath(this.dir, upload.id, STATE_FILE), JSON.stringify(upload));
  }

  /** Opens the snapshot for reading. */
  async openData(id: string): Promise<Deno.FsFile> {
    return await Deno.open(joinPath(this.dir, id, DATA_FILE), { read: true });
  }

  /**
   * Takes the upload's lock, so that two client processes never send the same upload at once.
   *
   * @returns a release function, or null when another process holds it.
   */
  async lock(id: string): Promise<(() => void) | null> {
    const file = await Deno.open(joinPath(this.dir, id, LOCK_FILE), {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    if (!(await file.tryLock(true).catch(() => false))) {
      file.close();
      return null;
    }
    return () => {
      try {
        file.close();
      } catch {
        // already released
      }
    };
  }

  /** Deletes the snapshot of an upload the server stored. */
  async removeData(id: string): Promise<void> {
    await Deno.remove(joinPath(this.dir, id, DATA_FILE)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Copies a file into a new private snapshot in 1 MiB blocks, hashing it on the way. */
async function snapshot(
  source: Deno.FsFile,
  path: string,
): Promise<{ size: number; sha256: string }> {
  const target = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  const hash = createSha256();
  let size = 0;
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
    const buffer = new Uint8Array(BLOCK);
    while (true) {
      const n = await source.read(buffer);
      if (n === null) break;
      const block = buffer.subarray(0, n);
      hash.update(block);
      let written = 0;
      while (written < n) written += await target.write(block.subarray(written));
      size += n;
    }
    await target.sync();
  } finally {
    target.close();
  }
  return { size, sha256: hash.digestHex() };
}

function checkName(name: string): void {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0 || bytes > MAX_DECLARED_NAME_BYTES) {
    throw new RangeError(
      `Cannot use upload name "${
        name.slice(0, 40)
      }": expected 1 to ${MAX_DECLARED_NAME_BYTES} bytes`,
    );
  }
}

/** Encodes a raw file key for `upload.json`. */
export function encodeFileKey(raw: Uint8Array): string {
  return encodeBase64Url(raw);
}
