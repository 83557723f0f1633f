/**
 * The relay's upload buffer folder, `<data-dir>/uploads/`: one folder per upload,
 * `<computer id>-<upload id>/`, holding the manifest message exactly as received
 * (`manifest.json`), the relay's knowledge of it (`state.json`: delivered to the parent, refused,
 * complete) and one file per chunk not yet forwarded (`<index>.chunk`, the request body as
 * received: ciphertext, or a signed clear chunk). The relay never decrypts anything here.
 *
 * The folder has a maximum size (`_BESRelay_UploadManager_BufferDirectoryMaxSize`): a chunk that
 * would pass it is not taken, and the sender is told to retry later; nothing already taken is
 * ever dropped to make room.
 *
 * Durability: manifests and state are written atomically and synced (one of each per upload).
 * Chunks are written to a temporary name and renamed, so a crash never leaves a partial chunk
 * under a chunk's name, but they are not synced one by one: a sender keeps its file until the
 * server says it stored it, and asks what is missing before it stops, so a chunk lost by a power
 * cut is sent again; a damaged one fails its tag at the server and is sent again the same way.
 *
 * @module
 */

import {
  ensurePrivateDir,
  joinPath,
  replaceFileAtomically,
  syncDir,
} from "../keystore/secure_file.ts";
import { readUploadManifestMessage } from "../envelope/upload_manifest.ts";
import { chunkOverhead } from "../protocol/upload.ts";

/** What the relay knows of one buffered upload. */
export interface BufferedUpload {
  readonly cid: number;
  readonly uid: string;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly encrypted: boolean;
  /** The parent accepted the manifest: chunks may go. */
  manifestDelivered: boolean;
  /** Indexes of the chunks waiting here, in arrival order. */
  readonly chunks: Set<number>;
  /** The parent refused the upload for good (its answer). */
  refused: { status: number; code: string; message: string } | null;
  /** The parent said it stored the whole file. */
  complete: boolean;
  createdAt: number;
}

interface StateFile {
  manifestDelivered: boolean;
  refused: BufferedUpload["refused"];
  complete: boolean;
  createdAt: number;
}

const FOLDER_PATTERN = /^([1-9][0-9]{0,15})-([0-9a-f]{32})$/;
const CHUNK_PATTERN = /^(\d{10})\.chunk$/;
const MANIFEST_FILE = "manifest.json";
const STATE_FILE = "state.json";
/** Finished (stored or refused) uploads' folders are kept this long, for late status queries. */
const KEEP_FINISHED_MS = 7 * 24 * 60 * 60 * 1000;

/** Bounds of the buffer. */
export interface UploadBufferOptions {
  /** Most bytes in the folder. */
  maxBytes: number;
  /** Most chunk files waiting (bounds the relay's memory; default 200 000). */
  maxChunks?: number;
  /** Most uploads known at once (default 10 000). */
  maxUploads?: number;
}

/** The buffer folder and its index in memory. */
export class UploadBuffer {
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxChunks: number;
  readonly maxUploads: number;
  readonly #uploads = new Map<string, BufferedUpload>();
  #bytes = 0;
  #reserved = 0;
  #chunkFiles = 0;

  private constructor(dataDir: string, options: UploadBufferOptions) {
    this.dir = joinPath(dataDir, "uploads");
    this.maxBytes = options.maxBytes;
    this.maxChunks = options.maxChunks ?? 200_000;
    this.maxUploads = options.maxUploads ?? 10_000;
  }

  /**
   * Opens the buffer of a data dir: indexes what a previous run left, deletes temporary files
   * and chunk files whose size cannot be right, and folders of finished uploads past their time.
   */
  static async open(dataDir: string, options: UploadBufferOptions): Promise<UploadBuffer> {
    const buffer = new UploadBuffer(dataDir, options);
    await ensurePrivateDir(buffer.dir);
    for await (const entry of Deno.readDir(buffer.dir)) {
      const match = FOLDER_PATTERN.exec(entry.name);
      const folder = joinPath(buffer.dir, entry.name);
      if (!match || !entry.isDirectory) continue;
      const upload = await buffer.#index(folder, Number(match[1]), match[2]);
      if (upload === null) {
        await Deno.remove(folder, { recursive: true }).catch(() => {});
        continue;
      }
      const finished = upload.complete || upload.refused !== null;
      if (finished && upload.createdAt < Date.now() - KEEP_FINISHED_MS) {
        await buffer.#removeFolder(upload);
        continue;
      }
      buffer.#uploads.set(keyOf(upload.cid, upload.uid), upload);
    }
    return buffer;
  }

  /** Bytes in the folder (chunks and manifests). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Chunk files waiting. */
  get chunkFiles(): number {
    return this.#chunkFiles;
  }

  get(cid: number, uid: string): BufferedUpload | undefined {
    return this.#uploads.get(keyOf(cid, uid));
  }

  /** Uploads, oldest first. */
  list(): BufferedUpload[] {
    return [...this.#uploads.values()];
  }

  /**
   * Stores a manifest message (synced) for a new upload, or recognises a resend.
   *
   * @returns "conflict" when another manifest with this id is there; "full" when the relay
   * tracks too many uploads.
   */
  async putManifest(
    bytes: Uint8Array<ArrayBuffer>,
    claims: { cid: number; uid: string; cs: number; cc: number; kid: string | null },
  ): Promise<{ outcome: "stored" | "exists" | "conflict" | "full"; upload?: BufferedUpload }> {
    const existing = this.get(claims.cid, claims.uid);
    if (existing) {
      const stored = await Deno.readFile(joinPath(this.#folder(existing), MANIFEST_FILE));
      return stored.length === bytes.length && stored.every((b, i) => b === bytes[i])
        ? { outcome: "exists", upload: existing }
        : { outcome: "conflict" };
    }
    if (this.#uploads.size >= this.maxUploads) return { outcome: "full" };
    const upload: BufferedUpload = {
      cid: claims.cid,
      uid: claims.uid,
      chunkSize: claims.cs,
      chunkCount: claims.cc,
      encrypted: claims.kid !== null,
      manifestDelivered: false,
      chunks: new Set(),
      refused: null,
      complete: false,
      createdAt: Date.now(),
    };
    const folder = this.#folder(upload);
    await Deno.mkdir(folder, { mode: 0o700 }).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    });
    await this.#writeState(upload);
    // The manifest last: a folder without one is an unfinished put, removed at the next start.
    await replaceFileAtomically(joinPath(folder, MANIFEST_FILE), bytes);
    await syncDir(this.dir);
    this.#bytes += bytes.length;
    this.#uploads.set(keyOf(upload.cid, upload.uid), upload);
    return { outcome: "stored", upload };
  }

  /** The manifest message as received. */
  async readManifest(upload: BufferedUpload): Promise<Uint8Array<ArrayBuffer>> {
    return await Deno.readFile(joinPath(this.#folder(upload), MANIFEST_FILE));
  }

  /**
   * Reserves room for a chunk of `bytes` before its body is read.
   *
   * @returns false when the folder (or the chunk count) would pass its maximum.
   */
  reserve(bytes: number): boolean {
    if (this.#bytes + this.#reserved + bytes > this.maxBytes) return false;
    if (this.#chunkFiles >= this.maxChunks) return false;
    this.#reserved += bytes;
    return true;
  }

  /** Gives back a reservation. */
  release(bytes: number): void {
    this.#reserved = Math.max(0, this.#reserved - bytes);
  }

  /**
   * Writes a chunk (temporary name, then rename); a chunk already here is kept as it is.
   * Synchronous: a write into the page cache takes microseconds, less than a thread hand-off.
   */
  putChunk(upload: BufferedUpload, index: number, bytes: Uint8Array): boolean {
    if (upload.chunks.has(index)) return false;
    const path = this.#chunkPath(upload, index);
    const temporary = `${path}.tmp-${crypto.randomUUID()}`;
    Deno.writeFileSync(temporary, bytes, { createNew: true, mode: 0o600 });
    Deno.renameSync(temporary, path);
    upload.chunks.add(index);
    this.#bytes += bytes.length;
    this.#chunkFiles++;
    return true;
  }

  /** A waiting chunk's bytes, exactly as received. */
  readChunk(upload: BufferedUpload, index: number): Uint8Array<ArrayBuffer> {
    return Deno.readFileSync(this.#chunkPath(upload, index));
  }

  /** Deletes a chunk the parent took (or refused). */
  removeChunk(upload: BufferedUpload, index: number): void {
    if (!upload.chunks.has(index)) return;
    const path = this.#chunkPath(upload, index);
    let size = 0;
    try {
      size = Deno.lstatSync(path).size;
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (upload.chunks.delete(index)) {
      this.#bytes -= size;
      this.#chunkFiles--;
    }
  }

  /** Records that the parent accepted (or lost) the manifest. */
  async setManifestDelivered(upload: BufferedUpload, delivered: boolean): Promise<void> {
    if (upload.manifestDelivered === delivered) return;
    upload.manifestDelivered = delivered;
    await this.#writeState(upload);
  }

  /** Records the parent's refusal and deletes the chunks it will never take. */
  async refuse(upload: BufferedUpload, refusal: NonNullable<BufferedUpload["refused"]>) {
    upload.refused = refusal;
    await this.#writeState(upload);
    for (const index of [...upload.chunks]) this.removeChunk(upload, index);
  }

  /** Records that the server stored the whole file. */
  async complete(upload: BufferedUpload): Promise<void> {
    if (upload.complete) return;
    upload.complete = true;
    await this.#writeState(upload);
    for (const index of [...upload.chunks]) this.removeChunk(upload, index);
  }

  #folder(upload: { cid: number; uid: string }): string {
    return joinPath(this.dir, keyOf(upload.cid, upload.uid));
  }

  #chunkPath(upload: BufferedUpload, index: number): string {
    return joinPath(this.#folder(upload), `${String(index).padStart(10, "0")}.chunk`);
  }

  async #writeState(upload: BufferedUpload): Promise<void> {
    const state: StateFile = {
      manifestDelivered: upload.manifestDelivered,
      refused: upload.refused,
      complete: upload.complete,
      createdAt: upload.createdAt,
    };
    await replaceFileAtomically(joinPath(this.#folder(upload), STATE_FILE), JSON.stringify(state));
  }

  async #removeFolder(upload: BufferedUpload): Promise<void> {
    await Deno.remove(this.#folder(upload), { recursive: true }).catch(() => {});
  }

  /** Reads one upload folder; null when it holds no usable manifest. */
  async #index(folder: string, cid: number, uid: string): Promise<BufferedUpload | null> {
    let manifest: Uint8Array;
    let claims;
    try {
      const info = await Deno.lstat(joinPath(folder, MANIFEST_FILE));
      if (!info.isFile) return null;
      manifest = await Deno.readFile(joinPath(folder, MANIFEST_FILE));
      claims = readUploadManifestMessage(JSON.parse(new TextDecoder().decode(manifest))).claims;
    } catch {
      return null;
    }
    if (claims.cid !== cid || claims.uid !== uid) return null;
    let state: Partial<StateFile> = {};
    try {
      state = JSON.parse(await Deno.readTextFile(joinPath(folder, STATE_FILE)));
    } catch {
      // No state: the manifest was never delivered.
    }
    const upload: BufferedUpload = {
      cid,
      uid,
      chunkSize: claims.cs,
      chunkCount: claims.cc,
      encrypted: claims.kid !== null,
      manifestDelivered: state.manifestDelivered === true,
      chunks: new Set(),
      refused: state.refused ?? null,
      complete: state.complete === true,
      createdAt: typeof state.createdAt === "number" ? state.createdAt : Date.now(),
    };
    this.#bytes += manifest.length;
    const overhead = chunkOverhead(upload.encrypted);
    const indexes: number[] = [];
    for await (const entry of Deno.readDir(folder)) {
      const path = joinPath(folder, entry.name);
      if (entry.name.includes(".tmp-")) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      const match = CHUNK_PATTERN.exec(entry.name);
      if (!match || !entry.isFile) continue;
      const index = Number(match[1]);
      const size = (await Deno.lstat(path)).size;
      const final = index === upload.chunkCount - 1;
      const fits = index < upload.chunkCount &&
        (final
          ? size >= overhead && size <= upload.chunkSize + overhead
          : size === upload.chunkSize + overhead);
      if (!fits || upload.complete || upload.refused) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      indexes.push(index);
      this.#bytes += size;
      this.#chunkFiles++;
    }
    for (const index of indexes.sort((a, b) => a - b)) upload.chunks.add(index);
    return upload;
  }
}

function keyOf(cid: number, uid: string): string {
  return `${cid}-${uid}`;
}
