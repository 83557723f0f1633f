/**
 * How the server takes an upload's manifest: parse the shape and clear claims (no keys touched),
 * authenticate the sender (`sender_authentication.ts`), then, one manifest at a time per upload,
 * recognise one already accepted, take over one another server held, or admit a new one
 * (`upload_admission.ts`) and record it. The folder is written before the record, and a refused
 * upload never writes a byte of file data.
 *
 * @module
 */

import { deriveChunkKey } from "../envelope/upload_chunk.ts";
import {
  type ParsedUploadManifest,
  readUploadManifestMessage,
  verifyUploadManifestSignature,
} from "../envelope/upload_manifest.ts";
import { checkClaims, type UploadStatus } from "../protocol/upload.ts";
import { ChunkBitmap } from "../protocol/chunk_bitmap.ts";
import type { UploadRecord } from "../store/upload_records.ts";
import type { ComputerDirectory, KnownComputer } from "./computer_directory.ts";
import { IngestError, readJsonMessage } from "./ingest_error.ts";
import type { OpenUploads } from "./open_uploads.ts";
import { authenticateSender } from "./sender_authentication.ts";
import type { UploadAdmission } from "./upload_admission.ts";
import { activeUpload, type UploadDisk } from "./upload_chunk_writer.ts";
import { statusOf } from "./upload_completion.ts";

/** What taking manifests needs. */
export interface ManifestIntakeOptions {
  computers: ComputerDirectory;
  admission: Pick<UploadAdmission, "open">;
  uploads: OpenUploads;
  disk: UploadDisk;
  /** This server's name, recorded as where each upload lands. */
  serverName: string;
}

/** Accepts manifests of new uploads, and of uploads already started here or elsewhere. */
export class ManifestIntake {
  readonly #options: ManifestIntakeOptions;

  constructor(options: ManifestIntakeOptions) {
    this.#options = options;
  }

  /**
   * Accepts a manifest message (or recognises one already accepted).
   *
   * @throws {IngestError} For every refusal.
   */
  async accept(body: Uint8Array<ArrayBuffer>): Promise<UploadStatus> {
    const parsed: ParsedUploadManifest = readJsonMessage(
      body,
      "upload manifest",
      readUploadManifestMessage,
      "upload data",
    );
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
    const { uploads, disk } = this.#options;
    return await uploads.withLock(cid, uid, async () => {
      const existing = await disk.records.getUpload(cid, uid);
      if (existing) {
        if (existing.manifestDigest !== digest) {
          throw new IngestError(
            409,
            "ERR_UPLOAD_CONFLICT",
            `Cannot accept upload ${uid}: computer ${cid} already started another upload with this id`,
          );
        }
        if (uploads.heldElsewhere(existing)) return await this.#takeOver(parsed, sender, body);
        return await uploads.status(cid, uid);
      }
      return await this.#start(parsed, sender, body, digest);
    });
  }

  async #start(
    parsed: ParsedUploadManifest,
    sender: KnownComputer,
    body: Uint8Array<ArrayBuffer>,
    digest: string,
  ): Promise<UploadStatus> {
    const { admission, uploads, disk } = this.#options;
    const { cid, uid, kid, cs, cc } = parsed.claims;
    const { manifest, fileKey, sealedFileKey } = await admission.open(parsed, sender);
    const now = disk.now();
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
    await disk.files.createIncoming(cid, uid, body, sealedFileKey);
    const outcome = await disk.records.createUpload(record, disk.quota.quotas());
    if (outcome !== "created") {
      await disk.files.removeIncoming(cid, uid);
      if (outcome === "exists") return await uploads.status(cid, uid);
      throw disk.quota.refusal(outcome, cid, uid, manifest.size);
    }
    const active = activeUpload(record, {
      chunkKey: fileKey ? await deriveChunkKey(fileKey, uid) : null,
      bitmap: new ChunkBitmap(cc),
      file: await disk.files.openPartial(cid, uid),
      receivedBytes: 0,
      lastTouch: now,
    }, now);
    fileKey?.fill(0);
    uploads.remember(active);
    disk.log.info("upload started", {
      cid,
      uid,
      size: record.size,
      chunks: cc,
      encrypted: record.encrypted,
    });
    return statusOf(active.record, active.bitmap);
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
    const { admission, uploads, disk, serverName } = this.#options;
    const { cid, uid } = parsed.claims;
    const fresh = !(await disk.files.hasIncoming(cid, uid));
    if (fresh) {
      const { fileKey, sealedFileKey } = await admission.open(parsed, sender, true);
      fileKey?.fill(0);
      await disk.files.createIncoming(cid, uid, body, sealedFileKey);
    }
    const taken = await disk.records.takeOverUpload(cid, uid, serverName, disk.now());
    if (!taken && fresh) await disk.files.removeIncoming(cid, uid);
    disk.log.info("upload taken over from another server", { cid, uid, resumed: !fresh });
    return await uploads.status(cid, uid);
  }
}
