/**
 * The upload quotas, charged by bytes received: a stored file counts its size, an upload in
 * progress the bytes the server wrote for it, never the size it declared (a manifest that is
 * never followed by its chunks holds nothing).
 *
 * The records (`store/upload_records.ts`) count what the last checkpoint of each upload wrote
 * down; the chunks written (or being written) since are counted here, in memory, until a
 * checkpoint writes them down too. A chunk is charged before its body is read, so two chunks
 * arriving together cannot both pass a check that only one of them fits, and a chunk that would
 * take its computer or the server past a quota is refused before any of it is written.
 *
 * Reading the records' figures sums every upload's row (a few milliseconds with ten thousand
 * uploads), so chunks use a copy read at most every {@linkcode USAGE_REFRESH_MS} per computer,
 * plus the bytes checkpoints wrote down since it was read: never less than the truth, and more
 * only until the next read when an upload failed, expired or was stored meanwhile.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import type { CreateUploadOutcome, UploadQuotas, UploadRecords } from "../store/upload_records.ts";
import { IngestError } from "./ingest_error.ts";

/** Uploads one computer may have in progress: empty files cost no quota, yet each holds files. */
export const MAX_IN_PROGRESS_PER_COMPUTER = 64;

/** What the quotas need. */
export interface UploadQuotaOptions {
  records: Pick<UploadRecords, "usage">;
  /** Bytes per computer and in total, stored or received (0: no limit). */
  limits: { perComputerBytes: number; totalBytes: number };
  log: Logger;
  now: () => number;
  /** Uploads idle longer than this no longer count. */
  staleAfterMs: number;
}

/** Why more bytes do not fit. */
export type QuotaShortfall = Exclude<CreateUploadOutcome, "created" | "exists">;

/** What one computer and all together hold, records and memory together. */
interface Usage {
  computerBytes: number;
  totalBytes: number;
  inProgress: number;
}

/** How long a copy of the records' figures serves chunks, in milliseconds. */
export const USAGE_REFRESH_MS = 2_000;
/** Copies kept at most (one per computer sending chunks). */
const MAX_USAGE_COPIES = 10_000;

/** The records' figures for one computer as read, with the bytes settled before the read. */
interface UsageCopy extends Usage {
  readAt: number;
  settledTotal: number;
  settledComputer: number;
}

/** The quotas' accounting. */
export class UploadQuota {
  readonly #options: UploadQuotaOptions;
  /** Bytes written (or reserved for a chunk being written) that the records may not count yet. */
  readonly #pending = new Map<string, { cid: number; bytes: number }>();
  readonly #pendingByComputer = new Map<number, number>();
  #pendingTotal = 0;
  /**
   * Bytes checkpoints moved from memory to the records, ever (in total and per computer): added
   * to a copy of the records' figures read before they moved, so that no byte is counted in
   * neither place. Taken before each read, so one settled during a read is counted (perhaps
   * twice: more, never less).
   */
  #settledTotal = 0;
  readonly #settledByComputer = new Map<number, number>();
  readonly #copies = new Map<number, UsageCopy>();

  constructor(options: UploadQuotaOptions) {
    this.#options = options;
  }

  /** The quotas a new upload's record is created under, as of now. */
  quotas(): UploadQuotas {
    const { perComputerBytes, totalBytes } = this.#options.limits;
    return {
      perComputerBytes,
      totalBytes,
      activeSince: this.#activeSince(),
      inProgressPerComputer: MAX_IN_PROGRESS_PER_COMPUTER,
    };
  }

  /**
   * Whether a new upload of at least `bytes` could fit this computer's and the server's quotas
   * (no charge: a manifest is checked before any unwrap, its chunks are charged as they come).
   */
  async room(cid: number, bytes: number): Promise<QuotaShortfall | null> {
    const usage = await this.#usage(cid, true);
    if (usage.inProgress >= MAX_IN_PROGRESS_PER_COMPUTER) return "too-many-in-progress";
    return this.#shortfall(usage, bytes);
  }

  /**
   * Charges a chunk's `bytes` to its upload before its body is read.
   *
   * @throws {IngestError} 413 `ERR_UPLOAD_QUOTA_EXCEEDED` when they do not fit: nothing charged.
   */
  async reserve(cid: number, uid: string, index: number, bytes: number): Promise<void> {
    const usage = await this.#usage(cid, false);
    // No await between the check and the charge: chunks arriving together are counted in turn.
    const shortfall = this.#shortfall(usage, bytes);
    if (shortfall === null) {
      this.#add(cid, uid, bytes);
      return;
    }
    const { perComputerBytes, totalBytes } = this.#options.limits;
    this.#options.log.info("upload chunk refused: quota", { cid, uid, index, quota: shortfall });
    const which = shortfall === "computer-quota"
      ? `computer ${cid} past its upload quota of ${perComputerBytes} bytes (${usage.computerBytes} stored or received)`
      : `the server past its total upload quota of ${totalBytes} bytes (${usage.totalBytes} stored or received)`;
    throw new IngestError(
      413,
      "ERR_UPLOAD_QUOTA_EXCEEDED",
      `Cannot accept chunk ${index} of upload ${uid}: its ${bytes} bytes would take ${which}; ` +
        "keep the upload and try again later: it resumes once this computer's other uploads " +
        "finish or expire, stored files are removed, or the operator raises " +
        (shortfall === "computer-quota" ? "--upload-quota-per-computer" : "--upload-quota-total"),
    );
  }

  /** Takes back a reserved chunk that was not written (refused, a duplicate, the upload ended). */
  release(cid: number, uid: string, bytes: number): void {
    this.#add(cid, uid, -bytes);
  }

  /**
   * Writes `bytes` more of an upload down in the records (`write`), then stops counting them in
   * memory. A write that fails leaves them counted here.
   */
  async settle(cid: number, uid: string, bytes: number, write: () => Promise<void>): Promise<void> {
    await write();
    this.#add(cid, uid, -bytes);
    this.#settledTotal += bytes;
    this.#settledByComputer.set(cid, (this.#settledByComputer.get(cid) ?? 0) + bytes);
  }

  /** Stops counting an upload in memory: it failed or expired, or is loaded again from disk. */
  forget(cid: number, uid: string): void {
    const entry = this.#pending.get(keyOf(cid, uid));
    if (entry) this.#add(cid, uid, -entry.bytes);
  }

  /** The refusal of a new upload that does not fit. */
  refusal(shortfall: QuotaShortfall, cid: number, uid: string, size: number): IngestError {
    if (shortfall === "too-many-in-progress") {
      return new IngestError(
        413,
        "ERR_UPLOAD_QUOTA_EXCEEDED",
        `Cannot accept another upload: computer ${cid} has ${MAX_IN_PROGRESS_PER_COMPUTER} in progress; finish those first`,
      );
    }
    const { perComputerBytes, totalBytes } = this.#options.limits;
    const which = shortfall === "computer-quota"
      ? `computer ${cid}'s upload quota of ${perComputerBytes} bytes; remove stored files, or ` +
        "ask the operator to raise --upload-quota-per-computer"
      : `the server's total upload quota of ${totalBytes} bytes; ask the operator to remove ` +
        "stored files or raise --upload-quota-total";
    this.#options.log.info("upload refused: quota", { cid, uid, size, quota: shortfall });
    return new IngestError(
      413,
      "ERR_UPLOAD_QUOTA_EXCEEDED",
      `Cannot accept an upload of ${size} bytes: it would exceed ${which}`,
    );
  }

  #shortfall(usage: Usage, bytes: number): QuotaShortfall | null {
    const { perComputerBytes, totalBytes } = this.#options.limits;
    if (perComputerBytes > 0 && usage.computerBytes + bytes > perComputerBytes) {
      return "computer-quota";
    }
    if (totalBytes > 0 && usage.totalBytes + bytes > totalBytes) return "total-quota";
    return null;
  }

  /** The records' figures plus what memory holds that they may not count yet. */
  async #usage(cid: number, fresh: boolean): Promise<Usage> {
    let copy = this.#copies.get(cid);
    const now = this.#options.now();
    if (fresh || !copy || now - copy.readAt >= USAGE_REFRESH_MS) {
      const settledTotal = this.#settledTotal;
      const settledComputer = this.#settledByComputer.get(cid) ?? 0;
      const recorded = await this.#options.records.usage(cid, this.#activeSince());
      copy = { ...recorded, readAt: now, settledTotal, settledComputer };
      this.#copies.delete(cid);
      this.#copies.set(cid, copy);
      for (const [oldest, old] of this.#copies) {
        if (this.#copies.size <= MAX_USAGE_COPIES && now - old.readAt < USAGE_REFRESH_MS) break;
        if (oldest !== cid) this.#copies.delete(oldest);
        else break;
      }
    }
    const settledComputer = (this.#settledByComputer.get(cid) ?? 0) - copy.settledComputer;
    return {
      computerBytes: copy.computerBytes + settledComputer +
        (this.#pendingByComputer.get(cid) ?? 0),
      totalBytes: copy.totalBytes + (this.#settledTotal - copy.settledTotal) + this.#pendingTotal,
      inProgress: copy.inProgress,
    };
  }

  #activeSince(): number {
    return this.#options.now() - this.#options.staleAfterMs;
  }

  #add(cid: number, uid: string, bytes: number): void {
    const key = keyOf(cid, uid);
    const entry = this.#pending.get(key) ?? { cid, bytes: 0 };
    // Never below nothing: a release after `forget` takes back nothing twice.
    const change = Math.max(bytes, -entry.bytes);
    entry.bytes += change;
    if (entry.bytes > 0) this.#pending.set(key, entry);
    else this.#pending.delete(key);
    const computer = (this.#pendingByComputer.get(cid) ?? 0) + change;
    if (computer > 0) this.#pendingByComputer.set(cid, computer);
    else this.#pendingByComputer.delete(cid);
    this.#pendingTotal += change;
  }
}

function keyOf(cid: number, uid: string): string {
  return `${cid}-${uid}`;
}
