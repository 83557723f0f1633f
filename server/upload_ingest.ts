/**
 * The server's path of an upload, one concept per file:
 *
 * 1. **Manifest** (here, then `upload_admission.ts`): parse the shape and clear claims (no keys
 *    touched); authenticate the sender (`sender_authentication.ts`); refuse an unknown key id and
 *    a computer past its quotas before any RSA operation; one unwrap within the computer's budget
 *    of new keys; check the manifest; keep the file key sealed beside the data; record the upload
 *    if its declared size fits beside what is stored and received, so a refused upload never
 *    writes a byte of file data.
 * 2. **Chunks** (here and `upload_chunk_writer.ts`): check the upload, index and exact length on
 *    its record before any key work or reading the body; charge the chunk's bytes to the quotas
 *    (`upload_quota.ts`: an upload holds what it received, never what it declared; a chunk past a
 *    quota is refused before it is written); open the chunk in its context (every failure the
 *    same opaque error); write it at its offset, hash in order, checkpoint.
 * 3. **Store** (`upload_completion.ts`): compare the SHA-256, link the file in place, record it;
 *    uploads that received nothing for 24 hours expire.
 *
 * Memory per upload in progress is its chunk bitmap (one bit per chunk) and a running hash; chunk
 * bodies in flight share a fixed byte budget, beyond which the answer is 503 with `Retry-After`.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import {
  type ChunkContext,
  deriveChunkKey,
  openChunk,
  openClearChunk,
} from "../envelope/upload_chunk.ts";
import {
  type ParsedUploadManifest,
  readUploadManifestMessage,
  verifyUploadManifestSignature,
} from "../envelope/upload_manifest.ts";
import {
  checkClaims,
  ChunkBitmap,
  chunkLengthOf,
  RETRY_LATER_CODE,
  type UploadLimits,
  type UploadStatus,
} from "../protocol/upload.ts";
import type { UploadRecord, UploadRecords } from "../store/upload_records.ts";
import type { KnownComputer } from "./computer_directory.ts";
import { IngestError, ingestErrorFrom, parseJsonBody } from "./ingest_error.ts";
import { authenticateSender } from "./sender_authentication.ts";
import {
  ackOf,
  type ActiveUpload,
  activeUpload,
  checkChunk,
  checkpoint,
  checkpointDue,
  type ChunkAnswer,
  heldBytes,
  releasing,
  type UploadDisk,
  writeChunk,
} from "./upload_chunk_writer.ts";
import { UploadAdmission, type UploadAdmissionOptions } from "./upload_admission.ts";
import { finalAnswer, finalizeUpload, recordFailure, statusOf } from "./upload_completion.ts";
import { UploadQuota } from "./upload_quota.ts";
import { UploadFiles } from "./upload_store.ts";

/** What the upload path needs (`limits` is also what this server advertises). */
export interface UploadIngestOptions extends Omit<UploadAdmissionOptions, "files" | "quota"> {
  dataDir: string;
  records: UploadRecords;
  /** Bytes per computer and in total, stored or received (0: no limit). */
  quotas: { perComputerBytes: number; totalBytes: number };
  /**
   * This server's name (`store/server_records.ts`): recorded as where each upload lands; an
   * upload another server holds is taken over when its client posts the manifest here.
   */
  serverName: string;
  now?: () => number;
  /** Uploads that received nothing for longer than this expire (default 24 hours). */
  staleAfterMs?: number;
  /** Uploads kept open in memory (default 64). */
  maxActive?: number;
  /** Bytes of chunk bodies held at once, all requests together (default 32 MiB). */
  memoryBudgetBytes?: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const DAY_MS = 24 * 60 * 60 * 1000;
/** How often uploads that received nothing for too long are looked for. */
const EXPIRY_CHECK_MS = 60 * 60 * 1000;

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
  readonly #disk: UploadDisk;
  readonly #admission: UploadAdmission;
  readonly #quota: UploadQuota;
  readonly #active = new Map<string, ActiveUpload>();
  /** Uploads set aside from memory whose last checkpoint is still being written. */
  readonly #closing = new Map<string, Promise<void>>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #inFlightBytes = 0;
  #expiryTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(options: UploadIngestOptions) {
    this.#options = options;
    this.#records = options.records;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#staleAfterMs = options.staleAfterMs ?? DAY_MS;
    this.#maxActive = options.maxActive ?? 64;
    this.#budget = options.memoryBudgetBytes ?? 32 * 1024 * 1024;
    this.files = new UploadFiles(options.dataDir);
    this.#quota = new UploadQuota({
      records: this.#records,
      limits: options.quotas,
      log: this.#log,
      now: this.#now,
      staleAfterMs: this.#staleAfterMs,
    });
    this.#disk = {
      files: this.files,
      records: this.#records,
      quota: this.#quota,
      log: this.#log,
      now: this.#now,
    };
    this.#admission = new UploadAdmission({ ...options, files: this.files, quota: this.#quota });
  }

  /** Uploads open in memory now, and the bytes of chunks being opened (the metrics read them). */
  openStats(): { uploads: number; chunkBytes: number } {
    return { uploads: this.#active.size, chunkBytes: this.#inFlightBytes };
  }

  /**
   * Opens the upload path of a data dir: checks its folders, expires stale uploads, removes
   * folders no record owns, and finishes uploads a crash interrupted while being stored.
   */
  static async open(options: UploadIngestOptions): Promise<UploadIngest> {
    const ingest = new UploadIngest(options);
    await ingest.files.init();
    await ingest.#sweep();
    ingest.#expiryTimer = setInterval(() => {
      ingest.#expireStale().catch((error) =>
        ingest.#log.warn("cannot expire idle uploads", { cause: (error as Error).message })
      );
    }, EXPIRY_CHECK_MS);
    Deno.unrefTimer(ingest.#expiryTimer as unknown as number);
    return ingest;
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
    const sender = await authenticateSender(
      this.#options.computers,
      cid,
      "upload",
      (publicKey) => verifyUploadManifestSignature(publicKey, parsed),
    );
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
        if (this.#heldElsewhere(existing)) return await this.#takeOver(parsed, sender, body);
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
    const sender = await authenticateSender(this.#options.computers, cid, "upload");
    // Index and length are checked on the record alone: no key work for a chunk refused anyway.
    const cached = this.#active.get(keyOf(cid, uid));
    const record = cached?.record ?? await this.#records.getUpload(cid, uid);
    if (record === null || (!cached && this.#heldElsewhere(record))) throw unknownUpload(cid, uid);
    if (!cached && (record.state === "complete" || record.state === "failed")) {
      return finalAnswer(record);
    }
    const expected = checkChunk(record, index, declaredLength);
    const loaded = cached ?? await this.#withLock(cid, uid, () => this.#load(cid, uid, true));
    if (!("bitmap" in loaded)) return finalAnswer(loaded);
    const active = loaded;
    const charge = chunkLengthOf(record.size, record.chunkSize, index);
    let charged = false;
    const written = { chunk: false };
    active.busy++;
    try {
      if (active.bitmap.has(index)) return ackOf(active, "duplicate");
      // Charged before the body is read: a chunk past a quota costs no reading, key work or disk.
      await this.#quota.reserve(cid, uid, index, charge);
      charged = true;
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
        return await this.#withLock(
          cid,
          uid,
          () => this.#write(cid, uid, index, plaintext, written),
        );
      } finally {
        this.#inFlightBytes -= expected;
      }
    } finally {
      // A chunk not written (refused, a duplicate, its upload ended) holds no quota.
      if (charged && !written.chunk) this.#quota.release(cid, uid, charge);
      active.busy--;
    }
  }

  /** Checkpoints and closes every upload in progress. */
  async close(): Promise<void> {
    clearInterval(this.#expiryTimer);
    for (const active of this.#active.values()) {
      await checkpoint(active, this.#disk).catch(() => {});
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
    const { manifest, fileKey, sealedFileKey } = await this.#admission.open(parsed, sender);
    const now = this.#now();
    const record: UploadRecord = {
      computerId: cid,
      uploadId: uid,
      declaredName: manifest.name,
      storedName: null,
      size: manifest.size,
      receivedBytes: 0,
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
      server: this.#options.serverName,
    };
    // The folder first, the record second: a crash in between leaves a folder no record owns,
    // which the next start removes; never a record without its manifest.
    await this.files.createIncoming(cid, uid, body, sealedFileKey);
    const outcome = await this.#records.createUpload(record, this.#quota.quotas());
    if (outcome !== "created") {
      await this.files.removeIncoming(cid, uid);
      if (outcome === "exists") return await this.#statusUnlocked(cid, uid);
      throw this.#quota.refusal(outcome, cid, uid, manifest.size);
    }
    const active = activeUpload(record, {
      chunkKey: fileKey ? await deriveChunkKey(fileKey, uid) : null,
      bitmap: new ChunkBitmap(cc),
      file: await this.files.openPartial(cid, uid),
      receivedBytes: 0,
      lastTouch: now,
    }, now);
    fileKey?.fill(0);
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
    // Set aside a moment ago: its last checkpoint first, so what is read below is current.
    await this.#closing.get(key);
    const record = await this.#records.getUpload(cid, uid);
    if (record === null || this.#heldElsewhere(record)) throw unknownUpload(cid, uid);
    if (record.state === "complete" || record.state === "failed" || !forChunks) return record;
    if (!(await this.files.hasIncoming(cid, uid))) {
      await this.#markFailed(record, "ERR_UPLOAD_LOST", "the server lost the partial file");
      return (await this.#records.getUpload(cid, uid))!;
    }
    const parsed = readUploadManifestMessage(
      JSON.parse(decoder.decode(await this.files.readManifest(cid, uid))),
    );
    let chunkKey: CryptoKey | null = null;
    if (parsed.kind === "encrypted") {
      const fileKey = await this.#admission.reopenFileKey(parsed, cid, uid);
      chunkKey = await deriveChunkKey(fileKey, uid);
      fileKey.fill(0);
    }
    const now = this.#now();
    const bitmap = await this.files.readBitmap(cid, uid, record.chunkCount);
    // What the bitmap names is what the upload holds: the quotas count that, nothing else.
    const received = heldBytes(record, bitmap);
    this.#quota.forget(cid, uid);
    if (received !== record.receivedBytes) {
      await this.#records.updateUpload(cid, uid, { receivedBytes: received });
    }
    const active = activeUpload(record, {
      chunkKey,
      bitmap,
      file: await this.files.openPartial(cid, uid),
      receivedBytes: received,
      lastTouch: 0,
    }, now);
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
    written: { chunk: boolean },
  ): Promise<ChunkAnswer> {
    // Loaded again: the upload may have been stored, failed or set aside meanwhile.
    const active = await this.#load(cid, uid, true);
    if (!("bitmap" in active)) return finalAnswer(active);
    const { record } = active;
    if (active.bitmap.has(index)) return ackOf(active, "duplicate");
    writeChunk(active, index, plaintext);
    written.chunk = true;
    if (active.bitmap.complete) {
      await this.#finalize(active);
      const stored = await this.#records.getUpload(record.computerId, record.uploadId);
      return finalAnswer(stored!, "stored");
    }
    if (checkpointDue(active, this.#now())) {
      // In the background: chunks keep being written while the disk syncs.
      void checkpoint(active, this.#disk).catch((error) =>
        this.#log.warn("upload checkpoint failed", {
          cid,
          uid,
          cause: (error as Error).message,
        })
      );
    }
    return ackOf(active, "stored");
  }

  /**
   * True for an upload in progress whose partial file another server holds: here it is unknown
   * (404, so the client posts its manifest) until that manifest makes this server take it over.
   */
  #heldElsewhere(record: UploadRecord): boolean {
    return record.server !== null && record.server !== this.#options.serverName &&
      (record.state === "receiving" || record.state === "finalizing");
  }

  /**
   * Takes over an upload whose client failed over from another server: it resumes from what this
   * server holds of it (it held it before), else starts over here with the manifest just posted.
   */
  async #takeOver(
    parsed: ParsedUploadManifest,
    sender: KnownComputer,
    body: Uint8Array<ArrayBuffer>,
  ): Promise<UploadStatus> {
    const { cid, uid } = parsed.claims;
    const fresh = !(await this.files.hasIncoming(cid, uid));
    if (fresh) {
      const { fileKey, sealedFileKey } = await this.#admission.open(parsed, sender, true);
      fileKey?.fill(0);
      await this.files.createIncoming(cid, uid, body, sealedFileKey);
    }
    const taken = await this.#records.takeOverUpload(
      cid,
      uid,
      this.#options.serverName,
      this.#now(),
    );
    if (!taken && fresh) await this.files.removeIncoming(cid, uid);
    this.#log.info("upload taken over from another server", { cid, uid, resumed: !fresh });
    return await this.#statusUnlocked(cid, uid);
  }

  /** Stores an upload whose chunks are all in, and forgets it. */
  async #finalize(active: ActiveUpload): Promise<void> {
    const { computerId: cid, uploadId: uid } = active.record;
    this.#active.delete(keyOf(cid, uid));
    await finalizeUpload(active, this.#disk);
  }

  async #markFailed(record: UploadRecord, code: string, message: string): Promise<void> {
    const { computerId: cid, uploadId: uid } = record;
    this.#active.get(keyOf(cid, uid))?.file.close();
    this.#active.delete(keyOf(cid, uid));
    await recordFailure(this.#disk, record, code, message);
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

  #remember(active: ActiveUpload): void {
    const { computerId, uploadId } = active.record;
    this.#active.set(keyOf(computerId, uploadId), active);
    if (this.#active.size <= this.#maxActive) return;
    for (const [key, candidate] of this.#active) {
      if (candidate.busy > 0 || candidate === active || this.#locks.has(key)) continue;
      this.#active.delete(key);
      const closing = checkpoint(candidate, this.#disk).catch(() => {}).finally(() =>
        candidate.file.close()
      );
      this.#closing.set(key, closing);
      void closing.finally(() => {
        if (this.#closing.get(key) === closing) this.#closing.delete(key);
      });
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

  /** Expires the uploads that received nothing for longer than the stale time (runs hourly). */
  async #expireStale(): Promise<void> {
    const cutoff = this.#now() - this.#staleAfterMs;
    for (const record of await this.#records.listUploadsIn("receiving")) {
      if (record.updatedAt >= cutoff || this.#heldElsewhere(record)) continue;
      const { computerId: cid, uploadId: uid } = record;
      await this.#withLock(cid, uid, async () => {
        const active = this.#active.get(keyOf(cid, uid));
        if (active && (active.busy > 0 || active.lastTouch >= cutoff)) return;
        await this.#markFailed(record, "ERR_UPLOAD_EXPIRED", "no chunk arrived for too long");
        this.#log.info("upload expired", { cid, uid });
      });
    }
  }

  async #sweep(): Promise<void> {
    const now = this.#now();
    const owned = new Set<string>();
    for (const state of ["receiving", "finalizing"] as const) {
      for (const record of await this.#records.listUploadsIn(state)) {
        // Another server's partial files are its own business; its folders here are not owned.
        if (this.#heldElsewhere(record)) continue;
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

function unknownUpload(cid: number, uid: string): IngestError {
  return new IngestError(
    404,
    "ERR_UNKNOWN_UPLOAD",
    `Upload ${uid} of computer ${cid} is not known here; post its manifest first`,
  );
}

function keyOf(cid: number, uid: string): string {
  return `${cid}-${uid}`;
}
