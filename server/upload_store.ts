/**
 * Upload files on the server's disk:
 *
 * - `<data-dir>/uploads/.incoming/<cid>-<upload id>/`: the manifest message as received
 *   (`manifest.json`), the partial file (`data.part`, each chunk written at its offset, so the
 *   partial file is the reassembled file once every chunk is in) and the checkpoint of which
 *   chunks it holds (`chunks.bitmap`, written only after `data.part` was synced);
 * - `<data-dir>/uploads/<cid>/<sanitised name>`: the stored file.
 *
 * Links are never followed: every folder is checked with `lstat` to be a real folder, files are
 * created with create-new (which refuses any existing path, a link included), and a stored file
 * is put in place with `link()`, which never replaces what stands at the target. Names come from
 * `sanitizeUploadName`, contain no separator and are never `.` or `..`, so the stored path is
 * always directly inside the computer's folder.
 *
 * @module
 */

import { joinPath, pathExists, replaceFileAtomically, syncDir } from "../keystore/secure_file.ts";
import { alternativeName } from "../protocol/upload_name.ts";
import { ChunkBitmap } from "../protocol/chunk_bitmap.ts";

const INCOMING = ".incoming";
const MANIFEST_FILE = "manifest.json";
const PARTIAL_FILE = "data.part";
const BITMAP_FILE = "chunks.bitmap";
/** The upload's file key, sealed as the vault seals content keys: a restart costs no RSA. */
const SEALED_FILE_KEY_FILE = "file-key.sealed";
const INCOMING_PATTERN = /^([1-9][0-9]{0,15})-([0-9a-f]{32})$/;
/** Alternatives tried when a stored name is taken: `name (2).ext` … */
const MAX_ALTERNATIVES = 1000;

/** The upload folders of a server data dir. */
export class UploadFiles {
  readonly root: string;
  readonly incoming: string;

  constructor(dataDir: string) {
    this.root = joinPath(dataDir, "uploads");
    this.incoming = joinPath(this.root, INCOMING);
  }

  /** Creates (or checks) the upload folders: real folders, mode 0700. */
  async init(): Promise<void> {
    await ensureRealDir(this.root);
    await ensureRealDir(this.incoming);
  }

  /** The folder of an upload in progress. */
  incomingDir(cid: number, uid: string): string {
    return joinPath(this.incoming, `${cid}-${uid}`);
  }

  /** The folder of a computer's stored files. */
  computerDir(cid: number): string {
    if (!Number.isSafeInteger(cid) || cid < 1) throw new RangeError(`Bad computer id ${cid}`);
    return joinPath(this.root, String(cid));
  }

  /** Uploads in progress on disk, as [cid, uid] pairs. */
  async listIncoming(): Promise<Array<[number, string]>> {
    const found: Array<[number, string]> = [];
    for await (const entry of Deno.readDir(this.incoming)) {
      const match = INCOMING_PATTERN.exec(entry.name);
      if (entry.isDirectory && match) found.push([Number(match[1]), match[2]]);
    }
    return found;
  }

  /**
   * Creates an upload's folder with its manifest, its sealed file key (encrypted uploads) and an
   * empty partial file. A folder left by an earlier attempt (a crash before the record was
   * written) is replaced.
   */
  async createIncoming(
    cid: number,
    uid: string,
    manifest: Uint8Array,
    sealedFileKey: Uint8Array | null = null,
  ): Promise<void> {
    const dir = this.incomingDir(cid, uid);
    await this.removeIncoming(cid, uid);
    await Deno.mkdir(dir, { mode: 0o700 });
    await writeNewFile(joinPath(dir, MANIFEST_FILE), manifest, true);
    if (sealedFileKey) {
      await writeNewFile(joinPath(dir, SEALED_FILE_KEY_FILE), sealedFileKey, true);
    }
    await writeNewFile(joinPath(dir, PARTIAL_FILE), new Uint8Array(0), true);
    await syncDir(dir);
    await syncDir(this.incoming);
  }

  /** Whether an upload's folder and partial file are there. */
  async hasIncoming(cid: number, uid: string): Promise<boolean> {
    try {
      await regularFile(joinPath(this.incomingDir(cid, uid), PARTIAL_FILE));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** Reads an upload's manifest message. */
  async readManifest(cid: number, uid: string): Promise<Uint8Array<ArrayBuffer>> {
    const path = joinPath(this.incomingDir(cid, uid), MANIFEST_FILE);
    await regularFile(path);
    return await Deno.readFile(path);
  }

  /** Reads an upload's sealed file key, or null when it has none. */
  async readSealedFileKey(cid: number, uid: string): Promise<Uint8Array<ArrayBuffer> | null> {
    const path = joinPath(this.incomingDir(cid, uid), SEALED_FILE_KEY_FILE);
    try {
      await regularFile(path);
      return await Deno.readFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** Opens an upload's partial file for reading and writing (a regular file, never a link). */
  async openPartial(cid: number, uid: string): Promise<Deno.FsFile> {
    const path = joinPath(this.incomingDir(cid, uid), PARTIAL_FILE);
    await regularFile(path);
    const file = await Deno.open(path, { read: true, write: true });
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      throw new Error(`Cannot open "${path}": not a regular file`);
    }
    return file;
  }

  /** The last checkpoint of which chunks the partial file holds, or an empty bitmap. */
  async readBitmap(cid: number, uid: string, count: number): Promise<ChunkBitmap> {
    const path = joinPath(this.incomingDir(cid, uid), BITMAP_FILE);
    try {
      await regularFile(path);
      return new ChunkBitmap(count, await Deno.readFile(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof RangeError) {
        return new ChunkBitmap(count);
      }
      throw error;
    }
  }

  /** Writes a checkpoint (a bitmap's bytes); call only after the partial file was synced. */
  async writeBitmap(cid: number, uid: string, bitmap: Uint8Array): Promise<void> {
    await replaceFileAtomically(joinPath(this.incomingDir(cid, uid), BITMAP_FILE), bitmap);
  }

  /**
   * Puts a complete partial file in place as `uploads/<cid>/<name>` (or the first free
   * alternative `name (2).ext` …) without copying: a hard link, which never replaces anything.
   * When `previous` names a file that already is this partial file (a crash after the link),
   * that name is kept.
   *
   * @returns the stored name.
   */
  async place(
    cid: number,
    uid: string,
    name: string,
    previous: string | null,
    beforeLink: (candidate: string) => Promise<void>,
  ): Promise<string> {
    const dir = this.computerDir(cid);
    await ensureRealDir(dir);
    const partial = joinPath(this.incomingDir(cid, uid), PARTIAL_FILE);
    const partialInfo = await regularFile(partial);
    if (previous !== null) {
      try {
        const info = await Deno.lstat(joinPath(dir, previous));
        if (info.isFile && info.ino !== null && info.ino === partialInfo.ino) return previous;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    for (let n = 1; n <= MAX_ALTERNATIVES; n++) {
      const candidate = n === 1 ? name : alternativeName(name, n);
      if (await pathExists(joinPath(dir, candidate))) continue;
      await beforeLink(candidate);
      try {
        await Deno.link(partial, joinPath(dir, candidate));
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) continue;
        throw error;
      }
      await syncDir(dir);
      return candidate;
    }
    const fallback = `${uid}.upload`;
    await beforeLink(fallback);
    await Deno.link(partial, joinPath(dir, fallback));
    await syncDir(dir);
    return fallback;
  }

  /** Removes an upload's folder (after it was stored, failed or expired). */
  async removeIncoming(cid: number, uid: string): Promise<void> {
    const dir = this.incomingDir(cid, uid);
    try {
      const info = await Deno.lstat(dir);
      if (info.isSymlink || !info.isDirectory) {
        await Deno.remove(dir);
        return;
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Makes sure `path` is a real folder (not a link to one), creating it with mode 0700.
 *
 * @throws {Error} When something else stands there.
 */
export async function ensureRealDir(path: string): Promise<void> {
  try {
    const info = await Deno.lstat(path);
    if (info.isSymlink || !info.isDirectory) {
      throw new Error(`Cannot use "${path}": expected a folder, found a link or file`);
    }
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    await Deno.mkdir(path, { mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = await Deno.lstat(path);
  if (info.isSymlink || !info.isDirectory) {
    throw new Error(`Cannot use "${path}": expected a folder, found a link or file`);
  }
}

async function regularFile(path: string): Promise<Deno.FileInfo> {
  const info = await Deno.lstat(path);
  if (!info.isFile) throw new Error(`Cannot use "${path}": expected a regular file, not a link`);
  return info;
}

async function writeNewFile(path: string, bytes: Uint8Array, sync: boolean): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    if (sync) await file.sync();
  } finally {
    file.close();
  }
}
