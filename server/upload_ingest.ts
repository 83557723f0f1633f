/**
 * The server's path of an upload:
 *
 * 1. **Manifest.** Parse the shape and clear claims (no keys touched); look up the sender
 *    (unknown or revoked stop here); verify its signature over the message as it travelled;
 *    refuse an unknown key id without any RSA operation; unwrap the file key (the upload's one
 *    RSA private-key operation) and decrypt; verify the inner signature and claims; check the
 *    manifest; record it if the per-computer and total quotas allow its declared size, so a
 *    refused upload never writes a byte of file data.
 * 2. **Chunks.** Check the index and the exact length before reading the body; open the chunk in
 *    its context (every failure the same opaque error); write the plaintext at its offset in the
 *    partial file; hash it in order (chunks that arrive early are hashed later, read back from
 *    the partial file). Every 64 chunks or second, sync the partial file, then checkpoint which
 *    chunks it holds: after any crash the status says what the last checkpoint holds and the
 *    client sends the rest.
 * 3. **Store.** Once every chunk is in: finish the SHA-256 and compare it with the declared one;
 *    on a match, link the partial file into `uploads/<computer id>/<sanitised name>` (never
 *    replacing anything) and record it; otherwise record the failure and delete the data.
 *
 * Memory per upload in progress is its chunk bitmap (one bit per chunk) and a running hash; chunk
 * bodies in flight share a fixed byte budget, beyond which the answer is 503 with `Retry-After`.
 *
 * @module
 */

import type { KeyRing } from "./key_ring.ts";
import type { Logger } from "../cli/log.ts";
import {
  type ChunkContext,
  deriveChunkKey,
  openChunk,
  openClearChunk,
} from "../envelope/upload_chunk.ts";
import {
  openUploadManifest,
  type ParsedUploadManifest,
  readUploadManifestMessage,
  verifyUploadManifestSignature,
} from "../envelope/upload_manifest.ts";
import { encryptionKeysDir, readEncryptionKeyFile } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { createSha256, type IncrementalSha256 } from "../protocol/incremental_sha256.ts";
import {
  checkClaims,
  checkManifest,
  ChunkBitmap,
  chunkLengthOf,
  chunkOverhead,
  MAX_STATUS_RANGES,
  RETRY_LATER_CODE,
  sanitizeUploadName,
  type UploadLimits,
  type UploadManifest,
  type UploadStatus,
} from "../protocol/upload.ts";
import { releaseBytes } from "../protocol/upload_fetch.ts";
import type { UploadRecord, UploadRecords } from "../store/upload_records.ts";
import type { ComputerDirectory, KnownComputer } from "./computer_directory.ts";
import { inactiveReason, IngestError, ingestErrorFrom, parseJsonBody } from "./ingest_error.ts";
import { UploadFiles } from "./upload_store.ts";

/** What the upload path needs. */
export interface UploadIngestOptions {
  dataDir: string;
  records: UploadRecords;
  computers: ComputerDirectory;
  /** The loaded key ids: checked before any RSA operation (the server's `KeyRing`). */
  keys: Pick<KeyRing, "has" | "refusalForUnloadedKey">;
  log: Logger;
  /** Bytes per computer and in total, stored or in progress (0: no limit). */
  quotas: { perComputerBytes: number; totalBytes: number };
  /** What this server advertises (and enforces for the chunk size). */
  limits: UploadLimits;
  /** Whether clear text from a computer whose level is required is refused (as for reports). */
  isClearTextRefused?: (computerId: number, lastKnownLevel: string | null) => Promise<boolean>;
  now?: () => number;
  /** Uploads idle longer than this expire (default 7 days). */
  staleAfterMs?: number;
  /** Uploads kept open in memory (default 64). */
  maxActive?: number;
  /** Bytes of chunk bodies held at once, all requests together (default 32 MiB). */
  memoryBudgetBytes?: number;
}

/** A chunk's acknowledgement: small, so that acknowledging costs nothing per chunk. */
export interface ChunkAnswer {
  /** "stored" now, or "duplicate" when the server already had it. */
  result: "stored" | "duplicate";
  uploadId: string;
  computerId: number;
  state: UploadStatus["state"];
  received: number;
  chunkCount: number;
}

interface ActiveUpload {
  record: UploadRecord;
  chunkKey: CryptoKey | null;
  bitmap: ChunkBitmap;
  file: Deno.FsFile;
  /** Where the partial file's position stands (-1: unknown): in-order writes skip the seek. */
  position: number;
  hash: IncrementalSha256;
  hashedChunks: number;
  sinceCheckpoint: number;
  lastCheckpoint: number;
  /** The checkpoint being written, if any (one at a time). */
  checkpointing: Promise<void>;
  lastTouch: number;
  busy: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const CHECKPOINT_CHUNKS = 64;
const CHECKPOINT_MS = 1000;
const TOUCH_MS = 60_000;
/** Chunks hashed from disk per request when catching up; the rest waits for the next ones. */
const CATCH_UP_CHUNKS = 64;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Uploads one computer may have in progress: empty files cost no quota, yet each holds files. */
const MAX_IN_PROGRESS_PER_COMPUTER = 64;

/** Uploads in progress and their files. */
export class UploadIngest {
  readonly files: UploadFiles;
  readonly #options: UploadIngestOptions;
  readonly #records: UploadRecords;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #staleAfterMs: number;
  readonly #maxActive: number;
  readonly #budget: number;
  readonly #active = new Map<string, ActiveUpload>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #privateKeys = new Map<string, CryptoKey>();
  #inFlightBytes = 0;
  #rsaPrivateOps = 0;

  private constructor(options: UploadIngestOptions) {
    this.#options = options;
    this.#records = options.records;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#staleAfterMs = options.staleAfterMs ?? 7 * DAY_MS;
    this.#maxActive = options.maxActive ?? 64;
    this.#budget = options.memoryBudgetBytes ?? 32 * 1024 * 1024;
    this.files = new UploadFiles(options.dataDir);
  }

  /**
   * Opens the upload path of a data dir: checks its folders, expires stale uploads, removes
   * folders no record owns, and finishes uploads a crash interrupted while being stored.
   */
  static async open(options: UploadIngestOptions): Promise<UploadIngest> {
    const ingest = new UploadIngest(options);
    await ingest.files.init();
    await ingest.#sweep();
    return ingest;
  }

  /** RSA private-key operations made for uploads since start. */
  get rsaPrivateOps(): number {
    return this.#rsaPrivateOps;
  }

  /** The limits this server advertises. */
  limits(): UploadLimits {
    return { ...this.#options.limits };
  }

  /**
   * Accepts a manifest message (or recognises one already accepted).
   *
   * @throws {IngestError} For every refusal.
   */
  async acceptManifest(body: Uint8Array<ArrayBuffer>): Promise<UploadStatus> {
    const value = parseJsonBody(body, "upload manifest");
    let parsed: ParsedUploadManifest;
    try {
      parsed = readUploadManifestMessage(value);
    } catch (error) {
      throw ingestErrorFrom(error, "upload data");
    }
    const problem = checkClaims({ ...parsed.claims });
    if (problem) {
      throw new IngestError(
        400,
        "ERR_ENVELOPE_MALFORMED",
        `Cannot read upload manifest: ${problem}`,
      );
    }
    const { cid, uid } = parsed.claims;
    const sender = await this.#sender(cid);
    try {
      await verifyUploadManifestSignature(sender.publicKey, parsed);
    } catch (error) {
      throw ingestErrorFrom(error, "upload data");
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body)).toHex();
    return await this.#withLock(cid, uid, async () => {
      const existing = await this.#records.getUpload(cid, uid);
      if (existing) {
        if (existing.manifestDigest !== digest) {
          throw new IngestError(
            409,
            "ERR_UPLOAD_CONFLICT",
            `Cannot accept upload ${uid}: computer ${cid} already started another upload with this id`,
          );
        }
        return await this.#statusUnlocked(cid, uid);
      }
      return await this.#start(parsed, sender, body, digest);
    });
  }

  /**
   * The status of an upload.
   *
   * @throws {IngestError} 404 `ERR_UNKNOWN_UPLOAD` when the server never accepted its manifest.
   */
  async status(cid: number, uid: string): Promise<UploadStatus> {
    return await this.#withLock(cid, uid, () => this.#statusUnlocked(cid, uid));
  }

  /**
   * Accepts one chunk: its length is checked before the body is read.
   *
   * @throws {IngestError} For every refusal; a chunk that does not open gives the same error
   * whatever is wrong with it.
   */
  async acceptChunk(
    cid: number,
    uid: string,
    index: number,
    declaredLength: number | null,
    readBody: () => Promise<Uint8Array<ArrayBuffer>>,
  ): Promise<ChunkAnswer> {
    const sender = await this.#sender(cid);
    const loaded = this.#active.get(keyOf(cid, uid)) ??
      await this.#withLock(cid, uid, () => this.#load(cid, uid, true));
    if (!("bitmap" in loaded)) return this.#finalAnswer(loaded);
    const active = loaded;
    active.busy++;
    try {
      const record = active.record;
      if (index >= record.chunkCount) {
        throw new IngestError(
          400,
          "ERR_CHUNK_INVALID",
          `Cannot accept chunk ${index}: upload ${uid} has ${record.chunkCount} chunks`,
        );
      }
      const expected = chunkLengthOf(record.size, record.chunkSize, index) +
        chunkOverhead(record.encrypted);
      // The declared length must be the exact one: the HTTP framing then bounds the body.
      if (declaredLength !== expected) {
        throw new IngestError(
          400,
          "ERR_CHUNK_INVALID",
          `Cannot accept chunk ${index}: expected a Content-Length of ${expected} bytes, got ${
            declaredLength ?? "none"
          }`,
        );
      }
      if (active.bitmap.has(index)) return ackOf(active, "duplicate");
      if (this.#inFlightBytes + expected > this.#budget && this.#inFlightBytes > 0) {
        throw new IngestError(503, RETRY_LATER_CODE, "Cannot take more chunks now; retry shortly");
      }
      this.#inFlightBytes += expected;
      try {
        const bytes = await readBody();
        // Spent buffers are freed at once: memory stays flat however large the file.
        using _spent = releasing(bytes);
        if (bytes.length !== expected) {
          throw new IngestError(
            400,
            "ERR_CHUNK_INVALID",
            `Cannot accept chunk ${index}: expected exactly ${expected} bytes`,
          );
        }
        const context: ChunkContext = { cid, uid, index, final: index === record.chunkCount - 1 };
        let plaintext: Uint8Array<ArrayBuffer>;
        try {
          plaintext = active.chunkKey
            ? await openChunk(active.chunkKey, context, bytes)
            : await openClearChunk(sender.publicKey, context, bytes);
        } catch (error) {
          throw ingestErrorFrom(error, "upload data");
        }
        using _written = releasing(plaintext);
        return await this.#withLock(cid, uid, () => this.#write(cid, uid, index, plaintext));
      } finally {
        this.#inFlightBytes -= expected;
      }
    } finally {
      active.busy--;
    }
  }

  /** Checkpoints and closes every upload in progress. */
  async close(): Promise<void> {
    for (const active of this.#active.values()) {
      await this.#checkpoint(active).catch(() => {});
      active.file.close();
    }
    this.#active.clear();
  }

  async #start(
    parsed: ParsedUploadManifest,
    sender: KnownComputer,
    body: Uint8Array<ArrayBuffer>,
    digest: string,
  ): Promise<UploadStatus> {
    const { cid, uid, kid, cs, cc } = parsed.claims;
    const limit = this.#options.limits.maxChunkBytes;
    if (cs > limit) {
      throw new IngestError(
        400,
        "ERR_CHUNK_TOO_LARGE",
        `Cannot accept upload: chunks of ${cs} bytes are over this server's ${limit}; ask ${"GET"} the upload limits first`,
      );
    }
    let privateKey: CryptoKey | null = null;
    if (parsed.kind === "encrypted") {
      privateKey = await this.#privateKey(kid!);
    } else if (
      await this.#options.isClearTextRefused?.(cid, sender.record.encryptionLevel) === true
    ) {
      throw new IngestError(
        403,
        "ERR_CLEAR_TEXT_REFUSED",
        "Cannot accept a clear-text upload from a computer whose encryption level is required",
      );
    }
    if (privateKey) this.#rsaPrivateOps++;
    let opened;
    try {
      opened = await openUploadManifest(sender.publicKey, parsed, privateKey);
    } catch (error) {
      throw ingestErrorFrom(error, "upload data");
    }
    let manifest: UploadManifest;
    try {
      manifest = JSON.parse(decoder.decode(opened.manifest));
    } catch {
      throw new IngestError(400, "ERR_MANIFEST_INVALID", "Cannot read upload manifest: not JSON");
    }
    const problem = checkManifest(manifest, parsed.claims);
    if (problem) {
      throw new IngestError(400, "ERR_MANIFEST_INVALID", `Cannot accept upload: ${problem}`);
    }
    const now = this.#now();
    const record: UploadRecord = {
      computerId: cid,
      uploadId: uid,
      declaredName: manifest.name,
      storedName: null,
      size: manifest.size,
      sha256: manifest.sha256,
      chunkSize: cs,
      chunkCount: cc,
      encrypted: parsed.kind === "encrypted",
      kid,
      manifestDigest: digest,
      state: "receiving",
      error: null,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    };
    // The folder first, the record second: a crash in between leaves a folder no record owns,
    // which the next start removes; never a record without its manifest.
    await this.files.createIncoming(cid, uid, body);
    const { perComputerBytes, totalBytes } = this.#options.quotas;
    const outcome = await this.#records.createUpload(record, {
      perComputerBytes,
      totalBytes,
      activeSince: now - this.#staleAfterMs,
      inProgressPerComputer: MAX_IN_PROGRESS_PER_COMPUTER,
    });
    if (outcome !== "created") {
      await this.files.removeIncoming(cid, uid);
      if (outcome === "exists") return await this.#statusUnlocked(cid, uid);
      if (outcome === "too-many-in-progress") {
        throw new IngestError(
          413,
          "ERR_UPLOAD_QUOTA_EXCEEDED",
          `Cannot accept another upload: computer ${cid} has ${MAX_IN_PROGRESS_PER_COMPUTER} in progress; finish those first`,
        );
      }
      const which = outcome === "computer-quota"
        ? `computer ${cid}'s upload quota of ${perComputerBytes} bytes`
        : `the server's total upload quota of ${totalBytes} bytes`;
      this.#log.info("upload refused: quota", { cid, uid, size: manifest.size, quota: outcome });
      throw new IngestError(
        413,
        "ERR_UPLOAD_QUOTA_EXCEEDED",
        `Cannot accept an upload of ${manifest.size} bytes: it would exceed ${which}`,
      );
    }
    const active: ActiveUpload = {
      record,
      chunkKey: opened.fileKey ? await deriveChunkKey(opened.fileKey, uid) : null,
      bitmap: new ChunkBitmap(cc),
      file: await this.files.openPartial(cid, uid),
      position: -1,
      hash: createSha256(),
      hashedChunks: 0,
      sinceCheckpoint: 0,
      lastCheckpoint: now,
      checkpointing: Promise.resolve(),
      lastTouch: now,
      busy: 0,
    };
    opened.fileKey?.fill(0);
    this.#remember(active);
    this.#log.info("upload started", {
      cid,
      uid,
      size: record.size,
      chunks: cc,
      encrypted: record.encrypted,
    });
    return this.#statusOfActive(active);
  }

  /** The upload in progress (loaded into memory if needed), or its final record. */
  async #load(cid: number, uid: string, forChunks: boolean): Promise<ActiveUpload | UploadRecord> {
    const key = keyOf(cid, uid);
    const cached = this.#active.get(key);
    if (cached) {
      this.#active.delete(key);
      this.#active.set(key, cached);
      return cached;
    }
    const record = await this.#records.getUpload(cid, uid);
    if (record === null) {
      throw new IngestError(
        404,
        "ERR_UNKNOWN_UPLOAD",
        `Upload ${uid} of computer ${cid} is not known here; post its manifest first`,
      );
    }
    if (record.state === "complete" || record.state === "failed" || !forChunks) return record;
    if (!(await this.files.hasIncoming(cid, uid))) {
      await this.#markFailed(record, "ERR_UPLOAD_LOST", "the server lost the partial file");
      return (await this.#records.getUpload(cid, uid))!;
    }
    const parsed = readUploadManifestMessage(
      JSON.parse(decoder.decode(await this.files.readManifest(cid, uid))),
    );
    const sender = await this.#sender(cid);
    let chunkKey: CryptoKey | null = null;
    if (parsed.kind === "encrypted") {
      const privateKey = await this.#privateKey(parsed.claims.kid!);
      this.#rsaPrivateOps++;
      const opened = await openUploadManifest(sender.publicKey, parsed, privateKey).catch(
        (error) => {
          throw ingestErrorFrom(error, "upload data");
        },
      );
      chunkKey = await deriveChunkKey(opened.fileKey!, uid);
      opened.fileKey!.fill(0);
    }
    const now = this.#now();
    const active: ActiveUpload = {
      record,
      chunkKey,
      bitmap: await this.files.readBitmap(cid, uid, record.chunkCount),
      file: await this.files.openPartial(cid, uid),
      position: -1,
      hash: createSha256(),
      hashedChunks: 0,
      sinceCheckpoint: 0,
      lastCheckpoint: now,
      checkpointing: Promise.resolve(),
      lastTouch: 0,
      busy: 0,
    };
    this.#remember(active);
    if (active.bitmap.complete) {
      // A crash came after the last chunk: finish storing it now.
      await this.#finalize(active);
      return (await this.#records.getUpload(cid, uid))!;
    }
    return active;
  }

  async #write(
    cid: number,
    uid: string,
    index: number,
    plaintext: Uint8Array<ArrayBuffer>,
  ): Promise<ChunkAnswer> {
    // Loaded again: the upload may have been stored, failed or set aside meanwhile.
    const active = await this.#load(cid, uid, true);
    if (!("bitmap" in active)) return this.#finalAnswer(active);
    const { record } = active;
    if (active.bitmap.has(index)) return ackOf(active, "duplicate");
    // Synchronous: a write into the page cache takes microseconds, less than a thread hand-off.
    const offset = index * record.chunkSize;
    if (active.position !== offset) active.file.seekSync(offset, Deno.SeekMode.Start);
    active.position = -1;
    writeAllSync(active.file, plaintext);
    active.position = offset + plaintext.length;
    active.bitmap.set(index);
    active.sinceCheckpoint++;
    if (index === active.hashedChunks) {
      active.hash.update(plaintext);
      active.hashedChunks++;
    }
    this.#catchUpHash(active, CATCH_UP_CHUNKS);
    if (active.bitmap.complete) {
      await this.#finalize(active);
      const stored = await this.#records.getUpload(record.computerId, record.uploadId);
      return this.#finalAnswer(stored!, "stored");
    }
    const now = this.#now();
    if (
      active.sinceCheckpoint >= CHECKPOINT_CHUNKS || now - active.lastCheckpoint >= CHECKPOINT_MS
    ) {
      // In the background: chunks keep being written while the disk syncs.
      void this.#checkpoint(active).catch((error) =>
        this.#log.warn("upload checkpoint failed", {
          cid,
          uid,
          cause: (error as Error).message,
        })
      );
    }
    return ackOf(active, "stored");
  }

  /** Hashes, in order, the chunks already written past the hash's position (read back). */
  #catchUpHash(active: ActiveUpload, maxChunks: number): void {
    const { record } = active;
    let done = 0;
    while (
      active.hashedChunks < record.chunkCount && active.bitmap.has(active.hashedChunks) &&
      done < maxChunks
    ) {
      const index = active.hashedChunks;
      const length = chunkLengthOf(record.size, record.chunkSize, index);
      const buffer = new Uint8Array(length);
      active.position = -1;
      active.file.seekSync(index * record.chunkSize, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < length) {
        const n = active.file.readSync(buffer.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      active.hash.update(buffer.subarray(0, filled));
      releaseBytes(buffer);
      active.hashedChunks++;
      done++;
    }
  }

  /**
   * Records which chunks are safely on disk: the bitmap is copied first, then the partial file is
   * synced, then the copy written. Chunks written meanwhile are left for the next checkpoint, so
   * the checkpoint never names a chunk that a crash could lose.
   */
  async #checkpoint(active: ActiveUpload): Promise<void> {
    await active.checkpointing;
    const { record } = active;
    if (active.sinceCheckpoint === 0) return;
    const held = active.bitmap.toBytes();
    const now = this.#now();
    active.sinceCheckpoint = 0;
    active.lastCheckpoint = now;
    const run = (async () => {
      await active.file.sync();
      await this.files.writeBitmap(record.computerId, record.uploadId, held);
      if (now - active.lastTouch >= TOUCH_MS) {
        active.lastTouch = now;
        await this.#records.updateUpload(record.computerId, record.uploadId, { updatedAt: now });
      }
    })();
    active.checkpointing = run.catch(() => {});
    await run;
  }

  async #finalize(active: ActiveUpload): Promise<void> {
    const { record } = active;
    const { computerId: cid, uploadId: uid } = record;
    this.#catchUpHash(active, Number.POSITIVE_INFINITY);
    await active.checkpointing;
    await active.file.sync();
    await this.files.writeBitmap(cid, uid, active.bitmap.toBytes());
    const digest = active.hash.digestHex();
    active.file.close();
    this.#active.delete(keyOf(cid, uid));
    if (digest !== record.sha256) {
      await this.#markFailed(
        record,
        "ERR_UPLOAD_HASH_MISMATCH",
        "the file's SHA-256 differs from the one the client declared",
      );
      this.#log.warn("upload refused: hash mismatch", { cid, uid });
      return;
    }
    const name = sanitizeUploadName(record.declaredName);
    const storedName = await this.files.place(
      cid,
      uid,
      name,
      record.state === "finalizing" ? record.storedName : null,
      async (candidate) => {
        await this.#records.updateUpload(cid, uid, {
          state: "finalizing",
          storedName: candidate,
          updatedAt: this.#now(),
        });
      },
    );
    const now = this.#now();
    await this.#records.updateUpload(cid, uid, {
      state: "complete",
      storedName,
      completedAt: now,
      updatedAt: now,
    });
    await this.files.removeIncoming(cid, uid);
    this.#log.info("upload stored", { cid, uid, size: record.size, name: storedName });
  }

  async #markFailed(record: UploadRecord, code: string, message: string): Promise<void> {
    const { computerId: cid, uploadId: uid } = record;
    this.#active.get(keyOf(cid, uid))?.file.close();
    this.#active.delete(keyOf(cid, uid));
    await this.#records.updateUpload(cid, uid, {
      state: "failed",
      error: `${code}: ${message}`,
      updatedAt: this.#now(),
    });
    await this.files.removeIncoming(cid, uid);
  }

  async #statusUnlocked(cid: number, uid: string): Promise<UploadStatus> {
    const loaded = await this.#load(cid, uid, false);
    if ("bitmap" in loaded) return this.#statusOfActive(loaded);
    if (loaded.state === "receiving" || loaded.state === "finalizing") {
      const bitmap = await this.files.readBitmap(cid, uid, loaded.chunkCount);
      return statusOf(loaded, bitmap);
    }
    return statusOf(loaded, null);
  }

  #statusOfActive(active: ActiveUpload): UploadStatus {
    return statusOf(active.record, active.bitmap);
  }

  #finalAnswer(record: UploadRecord, result: "stored" | "duplicate" = "duplicate"): ChunkAnswer {
    if (record.state === "failed") {
      const { code, message } = splitError(record.error);
      throw new IngestError(409, "ERR_UPLOAD_FAILED", `Upload failed: ${code}: ${message}`);
    }
    const status = statusOf(record, null);
    return {
      result,
      uploadId: record.uploadId,
      computerId: record.computerId,
      state: status.state,
      received: status.received,
      chunkCount: record.chunkCount,
    };
  }

  async #sender(cid: number): Promise<KnownComputer> {
    const sender = await this.#options.computers.get(cid);
    if (!sender) {
      throw new IngestError(
        403,
        "ERR_UNKNOWN_COMPUTER",
        `Cannot accept upload: computer ${cid} is not registered here; register again`,
      );
    }
    const inactive = inactiveReason(sender.record);
    if (inactive) {
      throw new IngestError(403, inactive.code, `Cannot accept upload: ${inactive.why}`);
    }
    return sender;
  }

  /** The private key of `kid`, loaded once; refused without any RSA operation when unknown. */
  async #privateKey(kid: string): Promise<CryptoKey> {
    if (!this.#options.keys.has(kid)) throw this.#options.keys.refusalForUnloadedKey(kid, "upload");
    let key = this.#privateKeys.get(kid);
    if (!key) {
      const path = joinPath(encryptionKeysDir(this.#options.dataDir), `${kid}.pvk`);
      key = (await readEncryptionKeyFile(path, kid)).privateKey;
      this.#privateKeys.set(kid, key);
    }
    return key;
  }

  #remember(active: ActiveUpload): void {
    const { computerId, uploadId } = active.record;
    this.#active.set(keyOf(computerId, uploadId), active);
    if (this.#active.size <= this.#maxActive) return;
    for (const [key, candidate] of this.#active) {
      if (candidate.busy > 0 || candidate === active || this.#locks.has(key)) continue;
      this.#active.delete(key);
      void this.#checkpoint(candidate).catch(() => {}).finally(() => candidate.file.close());
      if (this.#active.size <= this.#maxActive) return;
    }
  }

  /** Runs `work` after every earlier piece of work on the same upload. */
  async #withLock<T>(cid: number, uid: string, work: () => Promise<T>): Promise<T> {
    const key = keyOf(cid, uid);
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const mine = previous.catch(() => {}).then(work);
    const settled = mine.catch(() => {});
    this.#locks.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    }
  }

  async #sweep(): Promise<void> {
    const now = this.#now();
    const owned = new Set<string>();
    for (const state of ["receiving", "finalizing"] as const) {
      for (const record of await this.#records.listUploadsIn(state)) {
        const { computerId: cid, uploadId: uid } = record;
        if (state === "receiving" && record.updatedAt < now - this.#staleAfterMs) {
          await this.#markFailed(record, "ERR_UPLOAD_EXPIRED", "no chunk arrived for too long");
          this.#log.info("upload expired", { cid, uid });
          continue;
        }
        owned.add(keyOf(cid, uid));
        if (state === "finalizing") {
          await this.#withLock(cid, uid, () => this.#load(cid, uid, true)).catch((error) =>
            this.#log.warn("cannot finish storing an upload", {
              cid,
              uid,
              cause: (error as Error).message,
            })
          );
        }
      }
    }
    for (const [cid, uid] of await this.files.listIncoming()) {
      if (!owned.has(keyOf(cid, uid))) await this.files.removeIncoming(cid, uid);
    }
  }
}

/** Builds the status of an upload from its record and, while receiving, its bitmap. */
function statusOf(record: UploadRecord, bitmap: ChunkBitmap | null): UploadStatus {
  const base = {
    uploadId: record.uploadId,
    computerId: record.computerId,
    chunkCount: record.chunkCount,
  };
  if (record.state === "complete") {
    return {
      ...base,
      state: "complete",
      received: record.chunkCount,
      stored: record.chunkCount,
      missing: [],
      missingTruncated: false,
      error: null,
    };
  }
  if (record.state === "failed") {
    return {
      ...base,
      state: "failed",
      received: 0,
      stored: 0,
      missing: [],
      missingTruncated: false,
      error: splitError(record.error),
    };
  }
  const held = bitmap ?? new ChunkBitmap(record.chunkCount);
  const { ranges, truncated } = held.missingRanges(MAX_STATUS_RANGES);
  return {
    ...base,
    state: "receiving",
    received: held.held,
    stored: held.held,
    missing: ranges,
    missingTruncated: truncated,
    error: null,
  };
}

function splitError(error: string | null): { code: string; message: string } {
  const text = error ?? "ERR_UPLOAD_FAILED: failed";
  const index = text.indexOf(": ");
  return index < 0
    ? { code: "ERR_UPLOAD_FAILED", message: text }
    : { code: text.slice(0, index), message: text.slice(index + 2) };
}

function keyOf(cid: number, uid: string): string {
  return `${cid}-${uid}`;
}

/** A disposable that frees `bytes` when the scope ends. */
function releasing(bytes: Uint8Array): Disposable {
  return { [Symbol.dispose]: () => releaseBytes(bytes) };
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

function ackOf(active: ActiveUpload, result: ChunkAnswer["result"]): ChunkAnswer {
  return {
    result,
    uploadId: active.record.uploadId,
    computerId: active.record.computerId,
    state: "receiving",
    received: active.bitmap.held,
    chunkCount: active.record.chunkCount,
  };
}
