/**
 * Admitting a new upload on the server, in the order that keeps it cheap: the chunk size, the key
 * id (before any RSA operation) or the clear-text policy, the quotas for the smallest file the
 * clear claims allow (before any unwrap; `upload_quota.ts`), then the file key within the computer's budget of new
 * keys (`content_key_source.ts`), the manifest opened and checked, and the file key sealed to be
 * kept beside the upload's data (so neither eviction from memory nor a restart costs a second
 * unwrap).
 *
 * @module
 */

import {
  openUploadManifestWithFileKey,
  type ParsedUploadManifest,
} from "../envelope/upload_manifest.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { checkManifest, type UploadLimits, type UploadManifest } from "../protocol/upload.ts";
import type { Logger } from "../cli/log.ts";
import { type ClearTextCheck, clearTextRefusal } from "./clear_text_policy.ts";
import type { ComputerDirectory, KnownComputer } from "./computer_directory.ts";
import type { ContentKeySource } from "./content_key_source.ts";
import type { WrappedKeyRef } from "./content_key_vault.ts";
import { IngestError, ingestErrorFrom } from "./ingest_error.ts";
import { authenticateSender } from "./sender_authentication.ts";
import type { UploadQuota } from "./upload_quota.ts";
import type { UploadFiles } from "./upload_store.ts";

/** What admitting uploads needs. */
export interface UploadAdmissionOptions {
  computers: ComputerDirectory;
  contentKeys: ContentKeySource;
  files: UploadFiles;
  log: Logger;
  quota: UploadQuota;
  limits: UploadLimits;
  isClearTextRefused?: ClearTextCheck;
}

/** A new upload's manifest, opened. */
export interface AdmittedManifest {
  manifest: UploadManifest;
  /** The raw file key (encrypted uploads; the caller zeroes it). */
  fileKey: Uint8Array<ArrayBuffer> | null;
  /** The file key sealed for this computer, server key and wrapped key, to keep on disk. */
  sealedFileKey: Uint8Array<ArrayBuffer> | null;
}

/** Admits new uploads and gives back the file keys of those in progress. */
export class UploadAdmission {
  readonly #options: UploadAdmissionOptions;

  constructor(options: UploadAdmissionOptions) {
    this.#options = options;
  }

  /**
   * Opens a new upload's manifest, whose sender's signature was verified.
   *
   * @throws {IngestError} For every refusal, 429/503 with `Retry-After` included.
   */
  async open(
    parsed: ParsedUploadManifest,
    sender: KnownComputer,
    /** Taken over from another server: its record already counts against the quotas. */
    recorded = false,
  ): Promise<AdmittedManifest> {
    const { cid, uid, kid, cs, cc } = parsed.claims;
    const limit = this.#options.limits.maxChunkBytes;
    if (cs > limit) {
      throw new IngestError(
        400,
        "ERR_CHUNK_TOO_LARGE",
        `Cannot accept upload: chunks of ${cs} bytes are over this server's ${limit}; ask ${"GET"} the upload limits first`,
      );
    }
    const ref: WrappedKeyRef | null = parsed.kind === "encrypted"
      ? { computerId: cid, kid: kid!, encryptedKey: parsed.message.encrypted_key }
      : null;
    if (ref) {
      this.#options.contentKeys.requireLoaded(ref.kid, "upload");
    } else if (
      this.#options.isClearTextRefused?.(cid, sender.record.encryptionLevel) === true
    ) {
      throw clearTextRefusal("upload");
    }
    // The quotas before any unwrap: the smallest file these claims allow must fit.
    const smallest = cc === 1 ? 0 : cs * (cc - 1) + 1;
    if (!recorded) {
      const shortfall = await this.#options.quota.room(cid, smallest);
      if (shortfall !== null) throw this.#options.quota.refusal(shortfall, cid, uid, smallest);
    }
    const unwrapped = ref ? await this.#options.contentKeys.fileKey(ref) : null;
    let opened;
    try {
      opened = await openUploadManifestWithFileKey(sender.publicKey, parsed, unwrapped);
    } catch (error) {
      throw ingestErrorFrom(error, "upload data");
    }
    let manifest: UploadManifest;
    try {
      manifest = JSON.parse(decodeUtf8(opened.manifest));
    } catch {
      throw new IngestError(400, "ERR_MANIFEST_INVALID", "Cannot read upload manifest: not JSON");
    }
    const problem = checkManifest(manifest, parsed.claims);
    if (problem) {
      throw new IngestError(400, "ERR_MANIFEST_INVALID", `Cannot accept upload: ${problem}`);
    }
    const sealedFileKey = ref && opened.fileKey
      ? this.#options.contentKeys.sealFileKey(ref, opened.fileKey)
      : null;
    return { manifest, fileKey: opened.fileKey, sealedFileKey };
  }

  /**
   * The file key of an upload in progress: its sealed copy opened (no RSA), or, when it has none
   * (started by an older server, or its key was unloaded meanwhile), one guarded unwrap.
   */
  async reopenFileKey(
    parsed: ParsedUploadManifest & { kind: "encrypted" },
    cid: number,
    uid: string,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const contentKeys = this.#options.contentKeys;
    const ref = {
      computerId: cid,
      kid: parsed.claims.kid!,
      encryptedKey: parsed.message.encrypted_key,
    };
    const sealed = await this.#options.files.readSealedFileKey(cid, uid);
    const opened = sealed ? contentKeys.openFileKey(ref, sealed) : null;
    if (opened) return opened;
    contentKeys.requireLoaded(ref.kid, "upload");
    const sender = await authenticateSender(this.#options.computers, cid, "upload");
    try {
      const checked = await openUploadManifestWithFileKey(
        sender.publicKey,
        parsed,
        await contentKeys.fileKey(ref),
      );
      return checked.fileKey!;
    } catch (error) {
      throw ingestErrorFrom(error, "upload data");
    }
  }
}
