/**
 * The server's path of an upload, one concept per file:
 *
 * 1. **Manifest** (`upload_manifest_intake.ts`, then `upload_admission.ts`): parse the shape and
 *    clear claims (no keys touched); authenticate the sender (`sender_authentication.ts`); refuse
 *    an unknown key id and a computer past its quotas before any RSA operation; one unwrap within
 *    the computer's budget of new keys; check the manifest; keep the file key sealed beside the
 *    data; record the upload if its declared size fits beside what is stored and received, so a
 *    refused upload never writes a byte of file data.
 * 2. **Chunks** (`upload_chunk_intake.ts`, then `upload_chunk_writer.ts`): check the upload, index
 *    and exact length on its record before any key work or reading the body; charge the chunk's
 *    bytes to the quotas (`upload_quota.ts`: an upload holds what it received, never what it
 *    declared; a chunk past a quota is refused before it is written); open the chunk in its
 *    context (every failure the same opaque error); write it at its offset, hash in order,
 *    checkpoint. Uploads in progress are held open in memory by `open_uploads.ts`.
 * 3. **Store** (`upload_completion.ts`): compare the SHA-256, link the file in place, record it;
 *    uploads that received nothing for 24 hours expire (`upload_sweep.ts`).
 *
 * Memory per upload in progress is its chunk bitmap (one bit per chunk) and a running hash; chunk
 * bodies in flight share a fixed byte budget, beyond which the answer is 503 with `Retry-After`.
 *
 * @module
 */

import type { UploadLimits, UploadStatus } from "../protocol/upload.ts";
import type { UploadRecords } from "../store/upload_records.ts";
import { OpenUploads } from "./open_uploads.ts";
import { UploadAdmission, type UploadAdmissionOptions } from "./upload_admission.ts";
import { ChunkIntake, type IncomingChunk } from "./upload_chunk_intake.ts";
import type { ChunkAnswer, UploadDisk } from "./upload_chunk_writer.ts";
import { ManifestIntake } from "./upload_manifest_intake.ts";
import { UploadQuota } from "./upload_quota.ts";
import { UploadFiles } from "./upload_store.ts";
import { expireStaleUploads, sweepUploads, type UploadSweepOptions } from "./upload_sweep.ts";

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

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often uploads that received nothing for too long are looked for. */
const EXPIRY_CHECK_MS = 60 * 60 * 1000;

/** Uploads in progress and their files. */
export class UploadIngest {
  readonly files: UploadFiles;
  readonly #limits: UploadLimits;
  readonly #uploads: OpenUploads;
  readonly #manifests: ManifestIntake;
  readonly #chunks: ChunkIntake;
  readonly #sweep: UploadSweepOptions;
  #expiryTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(options: UploadIngestOptions) {
    const { records, log, computers } = options;
    const now = options.now ?? Date.now;
    const staleAfterMs = options.staleAfterMs ?? DAY_MS;
    this.#limits = options.limits;
    this.files = new UploadFiles(options.dataDir);
    const quota = new UploadQuota({ records, limits: options.quotas, log, now, staleAfterMs });
    const disk: UploadDisk = { files: this.files, records, quota, log, now };
    const admission = new UploadAdmission({ ...options, files: this.files, quota });
    this.#uploads = new OpenUploads({
      disk,
      admission,
      serverName: options.serverName,
      maxActive: options.maxActive ?? 64,
    });
    const uploads = this.#uploads;
    this.#manifests = new ManifestIntake({
      computers,
      admission,
      uploads,
      disk,
      serverName: options.serverName,
    });
    this.#chunks = new ChunkIntake({
      computers,
      uploads,
      disk,
      memoryBudgetBytes: options.memoryBudgetBytes ?? 32 * 1024 * 1024,
    });
    this.#sweep = { uploads, disk, staleAfterMs };
  }

  /** Uploads open in memory now, and the bytes of chunks being opened (the metrics read them). */
  openStats(): { uploads: number; chunkBytes: number } {
    return { uploads: this.#uploads.size, chunkBytes: this.#chunks.inFlightBytes };
  }

  /**
   * Opens the upload path of a data dir: checks its folders, expires stale uploads, removes
   * folders no record owns, and finishes uploads a crash interrupted while being stored.
   */
  static async open(options: UploadIngestOptions): Promise<UploadIngest> {
    const ingest = new UploadIngest(options);
    await ingest.files.init();
    await sweepUploads(ingest.#sweep);
    ingest.#expiryTimer = setInterval(() => {
      expireStaleUploads(ingest.#sweep).catch((error) =>
        options.log.warn("cannot expire idle uploads", { cause: (error as Error).message })
      );
    }, EXPIRY_CHECK_MS);
    Deno.unrefTimer(ingest.#expiryTimer as unknown as number);
    return ingest;
  }

  /** The limits this server advertises. */
  limits(): UploadLimits {
    return { ...this.#limits };
  }

  /**
   * Accepts a manifest message (or recognises one already accepted).
   *
   * @throws {IngestError} For every refusal.
   */
  acceptManifest(body: Uint8Array<ArrayBuffer>): Promise<UploadStatus> {
    return this.#manifests.accept(body);
  }

  /**
   * The status of an upload.
   *
   * @throws {IngestError} 404 `ERR_UNKNOWN_UPLOAD` when the server never accepted its manifest.
   */
  status(cid: number, uid: string): Promise<UploadStatus> {
    return this.#uploads.withLock(cid, uid, () => this.#uploads.status(cid, uid));
  }

  /**
   * Accepts one chunk: its length is checked before the body is read.
   *
   * @throws {IngestError} For every refusal; a chunk that does not open gives the same error
   * whatever is wrong with it.
   */
  acceptChunk(chunk: IncomingChunk): Promise<ChunkAnswer> {
    return this.#chunks.accept(chunk);
  }

  /** Checkpoints and closes every upload in progress. */
  async close(): Promise<void> {
    clearInterval(this.#expiryTimer);
    await this.#uploads.close();
  }
}
