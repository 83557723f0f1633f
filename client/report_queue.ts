/**
 * The client's report queue on disk: one file per report (`queue/<seq>.json`), written before
 * anything is sent and removed only once the parent acknowledged it, so a report survives a
 * crash, a reboot, or days without a reachable parent. Reports refused for good move to
 * `queue/rejected/` with the reason beside them: never silently dropped.
 *
 * @module
 */

import {
  createSecretFile,
  ensurePrivateDir,
  joinPath,
  replaceFileAtomically,
} from "../keystore/secure_file.ts";
import type { EncryptionLevel } from "../protocol/encryption_level.ts";
import type { PropertyValue, Report } from "../protocol/report.ts";

/** A queued report: everything but the computer id, which is known only at send time. */
export interface QueuedReport {
  seq: number;
  createdAt: string;
  properties: Record<string, PropertyValue>;
  custom: Record<string, string>;
}

/**
 * The report a queued one becomes when it is sent: the computer id, and the level it was sent at
 * (`encryption_level`, `encryption_active`) among its properties.
 */
export function reportOf(
  queued: QueuedReport,
  computerId: number,
  level: EncryptionLevel,
  encrypted: boolean,
): Report {
  return {
    computerId,
    seq: queued.seq,
    createdAt: queued.createdAt,
    properties: {
      ...queued.properties,
      computer_id: computerId,
      encryption_level: level,
      encryption_active: encrypted,
    },
    custom: queued.custom,
    relevance: [],
    actionStatuses: [],
    analyses: [],
  };
}

/** The queue folder. */
export class ReportQueue {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = joinPath(dataDir, "queue");
  }

  /** Adds a report; its file is synced before this resolves. */
  async add(report: QueuedReport): Promise<void> {
    await ensurePrivateDir(this.#dir);
    await createSecretFile(this.#path(report.seq), JSON.stringify(report));
  }

  /** Queued reports, oldest first. */
  async list(): Promise<QueuedReport[]> {
    const seqs = await this.#seqs();
    const reports: QueuedReport[] = [];
    for (const seq of seqs) {
      try {
        reports.push(JSON.parse(await Deno.readTextFile(this.#path(seq))));
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    return reports;
  }

  /** Number of queued reports. */
  async depth(): Promise<number> {
    return (await this.#seqs()).length;
  }

  /** Highest queued sequence number, or 0. */
  async maxSeq(): Promise<number> {
    const seqs = await this.#seqs();
    return seqs.length ? seqs[seqs.length - 1] : 0;
  }

  /** Removes a delivered report. */
  async remove(seq: number): Promise<void> {
    await Deno.remove(this.#path(seq)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  /** Moves a report the parent refused for good aside, with the reason. */
  async reject(seq: number, reason: string): Promise<void> {
    const rejected = joinPath(this.#dir, "rejected");
    await ensurePrivateDir(rejected);
    await Deno.rename(this.#path(seq), joinPath(rejected, `${pad(seq)}.json`));
    await replaceFileAtomically(joinPath(rejected, `${pad(seq)}.reason`), reason + "\n");
  }

  #path(seq: number): string {
    return joinPath(this.#dir, `${pad(seq)}.json`);
  }

  async #seqs(): Promise<number[]> {
    const seqs: number[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        const match = /^(\d{12})\.json$/.exec(entry.name);
        if (entry.isFile && match) seqs.push(Number(match[1]));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return seqs.sort((a, b) => a - b);
  }
}

function pad(seq: number): string {
  return String(seq).padStart(12, "0");
}
