/**
 * The relay's upload buffer folder, `<data-dir>/uploads/`: one folder per upload,
 * `<computer id>-<upload id>/`, holding the manifest message exactly as received
 * (`manifest.json`), the relay's knowledge of it (`state.json`: delivered to the parent, refused,
 * complete) and the chunks waiting for the parent, appended to segment files (`<n>.segment`,
 * records of `relay/upload_segment_record.ts`: the request body as received, ciphertext or a
 * signed clear chunk). The relay never decrypts anything here.
 *
 * Only chunks the parent could not take at once come here: while the parent answers, the relay
 * passes each chunk straight on (cut-through, `relay/upload_forwarder.ts`) and writes nothing;
 * when the parent is away, busy or refusing, the chunk is stored here and forwarded later. Room
 * is reserved ({@linkcode UploadBuffer.reserve}) before a chunk's body is read either way, so a
 * chunk the parent did not take can always be stored.
 *
 * Segments rather than a file per chunk: creating a file costs far more than appending to one (on
 * the test machines, 0.7 ms against 0.03 ms for a 128 KiB chunk), and a relay handles thousands of
 * chunks a second. A segment is deleted once every chunk in it was forwarded; a new run never
 * appends to an old segment, so a record cut by a crash is only ever at the end of a segment,
 * where it is ignored.
 *
 * The folder has a maximum size (`_BESRelay_UploadManager_BufferDirectoryMaxSize`): a chunk that
 * would pass it is not taken, and the sender is told to retry later; nothing already taken is
 * ever dropped to make room.
 *
 * Durability: manifests and state are written atomically and synced (one of each per upload).
 * Chunks are appended without a sync per chunk: a sender keeps its file until the server says it
 * stored it, and asks what is missing before it stops, so a chunk lost by a power cut is sent
 * again; a damaged one fails its tag at the server and is sent again the same way.
 *
 * @module
 */

import {
  ensurePrivateDir,
  joinPath,
  readTextFileIfExists,
  replaceFileAtomically,
  syncDir,
} from "../keystore/secure_file.ts";
import { readUploadManifestMessage } from "../envelope/upload_manifest.ts";
import { readSegmentRecords, RECORD_HEADER, recordHeader } from "./upload_segment_record.ts";
import { encodeUploadState, readUploadState, type UploadRefusal } from "./upload_state_file.ts";

/** Where a buffered chunk's bytes are. */
interface ChunkPlace {
  segment: number;
  /** Offset of the body (after the record header) in the segment. */
  offset: number;
  length: number;
}

/** One segment file of an upload. */
interface Segment {
  file: Deno.FsFile;
  /** Bytes in the file. */
  size: number;
  /** Chunks in it not yet forwarded. */
  live: number;
  /** Where the file's position stands (-1: unknown), so that appends skip a needless seek. */
  position: number;
}

/** What the relay knows of one buffered upload. */
export interface BufferedUpload {
  readonly cid: number;
  readonly uid: string;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly encrypted: boolean;
  /** The parent accepted the manifest: chunks may go. */
  manifestDelivered: boolean;
  /** The chunks waiting here, by index, in arrival order. */
  readonly chunks: Map<number, ChunkPlace>;
  /** The parent refused the upload for good (its answer). */
  refused: UploadRefusal | null;
  /** The parent said it stored the whole file. */
  complete: boolean;
  createdAt: number;
  /** Segment files by number; the highest is the one appended to. */
  readonly segments: Map<number, Segment>;
  /** The segment new chunks go to (-1: none yet in this run). */
  current: number;
}

const FOLDER_PATTERN = /^([1-9][0-9]{0,15})-([0-9a-f]{32})$/;
const SEGMENT_PATTERN = /^(\d{10})\.segment$/;
const MANIFEST_FILE = "manifest.json";
const STATE_FILE = "state.json";
/** A segment is closed for appending once it holds this many bytes (less for a small buffer). */
const SEGMENT_BYTES = 8 * 1024 * 1024;
/** Finished (stored or refused) uploads' folders are kept this long, for late status queries. */
const KEEP_FINISHED_MS = 7 * 24 * 60 * 60 * 1000;

/** Bounds of the buffer. */
export interface UploadBufferOptions {
  /** Most bytes in the folder. */
  maxBytes: number;
  /** Most chunks waiting (bounds the relay's memory; default 100 000). */
  maxChunks?: number;
  /** Most uploads known at once (default 10 000). */
  maxUploads?: number;
}

/** How storing a manifest went: a new upload, a resend of its manifest, or neither. */
export type ManifestPut =
  /** Stored now, or the same manifest was already here. */
  | { kind: "stored" | "exists"; upload: BufferedUpload }
  /** Another manifest has this id. */
  | { kind: "conflict"; upload?: undefined }
  /** The relay tracks too many uploads now. */
  | { kind: "full"; upload?: undefined };

/** The buffer folder and its index in memory. */
export class UploadBuffer {
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxChunks: number;
  readonly maxUploads: number;
  readonly #segmentBytes: number;
  readonly #uploads = new Map<string, BufferedUpload>();
  #bytes = 0;
  #reserved = 0;
  #chunkCount = 0;

  private constructor(dataDir: string, options: UploadBufferOptions) {
    this.dir = joinPath(dataDir, "uploads");
    this.maxBytes = options.maxBytes;
    this.maxChunks = options.maxChunks ?? 100_000;
    this.maxUploads = options.maxUploads ?? 10_000;
    // Forwarded chunks' bytes stay counted until their segment goes: keep segments small beside
    // the maximum, so that a full buffer always frees room as it drains.
    this.#segmentBytes = Math.max(1, Math.min(SEGMENT_BYTES, Math.floor(options.maxBytes / 8)));
  }

  /**
   * Opens the buffer of a data dir: indexes what a previous run left (ignoring a record a crash
   * cut short and any that cannot be right), and removes folders of finished uploads past their
   * time and of puts a crash interrupted.
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
        buffer.#dropSegments(upload);
        await Deno.remove(folder, { recursive: true }).catch(() => {});
        continue;
      }
      buffer.#uploads.set(keyOf(upload.cid, upload.uid), upload);
    }
    return buffer;
  }

  /** Bytes in the folder (segments and manifests). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Chunks waiting. */
  get waiting(): number {
    return this.#chunkCount;
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
  ): Promise<ManifestPut> {
    const existing = this.get(claims.cid, claims.uid);
    if (existing) {
      const stored = await Deno.readFile(joinPath(this.#folder(existing), MANIFEST_FILE));
      return stored.length === bytes.length && stored.every((b, i) => b === bytes[i])
        ? { kind: "exists", upload: existing }
        : { kind: "conflict" };
    }
    if (this.#uploads.size >= this.maxUploads) await this.#forgetFinished();
    if (this.#uploads.size >= this.maxUploads) return { kind: "full" };
    const upload: BufferedUpload = {
      cid: claims.cid,
      uid: claims.uid,
      chunkSize: claims.cs,
      chunkCount: claims.cc,
      encrypted: claims.kid !== null,
      manifestDelivered: false,
      chunks: new Map(),
      refused: null,
      complete: false,
      createdAt: Date.now(),
      segments: new Map(),
      current: -1,
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
    return { kind: "stored", upload };
  }

  /** The manifest message as received. */
  async readManifest(upload: BufferedUpload): Promise<Uint8Array<ArrayBuffer>> {
    return await Deno.readFile(joinPath(this.#folder(upload), MANIFEST_FILE));
  }

  /**
   * Reserves room for a chunk body of `bytes` before it is read.
   *
   * @returns false when the folder (or the chunk count) would pass its maximum.
   */
  reserve(bytes: number): boolean {
    const needed = bytes + RECORD_HEADER;
    if (this.#bytes + this.#reserved + needed > this.maxBytes) return false;
    if (this.#chunkCount >= this.maxChunks) return false;
    this.#reserved += needed;
    return true;
  }

  /** Gives back a reservation. */
  release(bytes: number): void {
    this.#reserved = Math.max(0, this.#reserved - (bytes + RECORD_HEADER));
  }

  /**
   * Appends a chunk to the upload's current segment; a chunk already here is kept as it is.
   * Synchronous: an append to the page cache takes microseconds, less than a thread hand-off.
   *
   * @returns false when the chunk was already here.
   */
  putChunk(upload: BufferedUpload, index: number, bytes: Uint8Array): boolean {
    if (upload.chunks.has(index)) return false;
    let segment = upload.segments.get(upload.current);
    if (segment === undefined || segment.size >= this.#segmentBytes) {
      upload.current = Math.max(upload.current, ...upload.segments.keys()) + 1;
      const file = Deno.openSync(this.#segmentPath(upload, upload.current), {
        read: true,
        write: true,
        createNew: true,
        mode: 0o600,
      });
      segment = { file, size: 0, live: 0, position: 0 };
      upload.segments.set(upload.current, segment);
    }
    const record = recordHeader(index, bytes.length);
    if (segment.position !== segment.size) {
      segment.file.seekSync(segment.size, Deno.SeekMode.Start);
    }
    segment.position = -1;
    writeAllSync(segment.file, record);
    writeAllSync(segment.file, bytes);
    upload.chunks.set(index, {
      segment: upload.current,
      offset: segment.size + RECORD_HEADER,
      length: bytes.length,
    });
    segment.size += RECORD_HEADER + bytes.length;
    segment.position = segment.size;
    segment.live++;
    this.#bytes += RECORD_HEADER + bytes.length;
    this.#chunkCount++;
    return true;
  }

  /**
   * A waiting chunk's bytes, exactly as received.
   *
   * @throws {Deno.errors.NotFound} When the chunk is not here.
   */
  readChunk(upload: BufferedUpload, index: number): Uint8Array<ArrayBuffer> {
    const place = upload.chunks.get(index);
    const segment = place && upload.segments.get(place.segment);
    if (!place || !segment) throw new Deno.errors.NotFound(`chunk ${index} is not buffered`);
    const bytes = new Uint8Array(place.length);
    segment.position = -1;
    segment.file.seekSync(place.offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < bytes.length) {
      const n = segment.file.readSync(bytes.subarray(filled));
      if (n === null) throw new Deno.errors.NotFound(`chunk ${index} was cut short`);
      filled += n;
    }
    segment.position = place.offset + filled;
    return bytes;
  }

  /** Forgets a chunk the parent took (or refused); a segment with none left is deleted. */
  removeChunk(upload: BufferedUpload, index: number): void {
    const place = upload.chunks.get(index);
    if (!place) return;
    upload.chunks.delete(index);
    this.#chunkCount--;
    const segment = upload.segments.get(place.segment);
    if (!segment) return;
    segment.live--;
    if (segment.live === 0) this.#dropSegment(upload, place.segment);
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
    this.#dropSegments(upload);
  }

  /** Records that the server stored the whole file. */
  async complete(upload: BufferedUpload): Promise<void> {
    if (upload.complete) return;
    upload.complete = true;
    await this.#writeState(upload);
    this.#dropSegments(upload);
  }

  /** Closes the segment files (the relay is stopping). */
  close(): void {
    for (const upload of this.#uploads.values()) {
      for (const segment of upload.segments.values()) segment.file.close();
      upload.segments.clear();
    }
  }

  /** Makes room among the uploads known: the finished ones (stored or refused) go first. */
  async #forgetFinished(): Promise<void> {
    const finished = this.list().filter((upload) => upload.complete || upload.refused !== null);
    for (const upload of finished.slice(0, Math.max(1, Math.floor(this.maxUploads / 10)))) {
      this.#dropSegments(upload);
      this.#uploads.delete(keyOf(upload.cid, upload.uid));
      const manifest = await Deno.lstat(joinPath(this.#folder(upload), MANIFEST_FILE))
        .then((info) => info.size, () => 0);
      this.#bytes -= manifest;
      await Deno.remove(this.#folder(upload), { recursive: true }).catch(() => {});
    }
  }

  #folder(upload: { cid: number; uid: string }): string {
    return joinPath(this.dir, keyOf(upload.cid, upload.uid));
  }

  #segmentPath(upload: BufferedUpload, segment: number): string {
    return joinPath(this.#folder(upload), `${String(segment).padStart(10, "0")}.segment`);
  }

  #dropSegment(upload: BufferedUpload, number: number): void {
    const segment = upload.segments.get(number);
    if (!segment) return;
    upload.segments.delete(number);
    segment.file.close();
    this.#bytes -= segment.size;
    try {
      Deno.removeSync(this.#segmentPath(upload, number));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (number === upload.current) upload.current = -1;
  }

  #dropSegments(upload: BufferedUpload): void {
    this.#chunkCount -= upload.chunks.size;
    upload.chunks.clear();
    for (const number of [...upload.segments.keys()]) this.#dropSegment(upload, number);
  }

  async #writeState(upload: BufferedUpload): Promise<void> {
    const path = joinPath(this.#folder(upload), STATE_FILE);
    await replaceFileAtomically(path, encodeUploadState(upload));
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
    // No state (or none readable): the manifest was never delivered.
    const stateText = await readTextFileIfExists(joinPath(folder, STATE_FILE)).catch(() => null);
    const state = readUploadState(stateText, Date.now());
    const upload: BufferedUpload = {
      cid,
      uid,
      chunkSize: claims.cs,
      chunkCount: claims.cc,
      encrypted: claims.kid !== null,
      ...state,
      chunks: new Map(),
      segments: new Map(),
      current: -1,
    };
    this.#bytes += manifest.length;
    const numbers: number[] = [];
    for await (const entry of Deno.readDir(folder)) {
      const match = SEGMENT_PATTERN.exec(entry.name);
      if (match && entry.isFile) numbers.push(Number(match[1]));
      else if (entry.name.includes(".tmp-") || entry.name.endsWith(".chunk")) {
        await Deno.remove(joinPath(folder, entry.name)).catch(() => {});
      }
    }
    for (const number of numbers.sort((a, b) => a - b)) {
      const path = this.#segmentPath(upload, number);
      if (upload.complete || upload.refused) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      this.#indexSegment(upload, number, await Deno.readFile(path));
      const segment = upload.segments.get(number);
      if (!segment) await Deno.remove(path).catch(() => {});
    }
    // New chunks go to a new segment: an old one may end with a record a crash cut short.
    upload.current = -1;
    return upload;
  }

  /** Indexes the records of one segment, stopping at the first that cannot be right. */
  #indexSegment(upload: BufferedUpload, number: number, bytes: Uint8Array<ArrayBuffer>): void {
    let live = 0;
    const places: Array<[number, ChunkPlace]> = [];
    for (const { index, offset, length } of readSegmentRecords(bytes, upload)) {
      if (upload.chunks.has(index)) continue;
      places.push([index, { segment: number, offset, length }]);
      live++;
    }
    if (live === 0) return;
    const file = Deno.openSync(this.#segmentPath(upload, number), { read: true, write: true });
    upload.segments.set(number, { file, size: bytes.length, live, position: -1 });
    for (const [index, place] of places) upload.chunks.set(index, place);
    this.#bytes += bytes.length;
    this.#chunkCount += live;
  }
}

function keyOf(cid: number, uid: string): string {
  return `${cid}-${uid}`;
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}
