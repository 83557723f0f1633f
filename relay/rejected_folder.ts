/**
 * The relay's `<data-dir>/rejected/`: the messages its parent refused for good, each `<id>.json`
 * with a `<id>.reason` text beside it, kept for an administrator, never dropped silently, until
 * they pass the folder's maximum age or size (oldest first). The spool (`relay/spool.ts`) moves
 * a message here; this keeps the index, writes the reasons and prunes.
 *
 * @module
 */

import { ensurePrivateDir, joinPath, replaceFileAtomically } from "../keystore/secure_file.ts";
import { idOfFileName, isSpoolId, MESSAGE_SUFFIX } from "./spool_id.ts";

const REASON_SUFFIX = ".reason";

/** The bounds of the rejected folder. */
export interface RejectedFolderLimits {
  /** How long a rejected message is kept, in milliseconds (default: for ever). */
  maxAgeMs?: number;
  /** Most bytes of rejected messages and reasons kept; the oldest go first (default: no limit). */
  maxBytes?: number;
}

/** One rejected message: its id, when it was refused, and the bytes of its two files. */
interface RejectedEntry {
  id: string;
  at: number;
  size: number;
}

/**
 * The rejected folder of a data dir, indexed.
 *
 * @example
 * ```ts ignore
 * const rejected = await RejectedFolder.open(joinPath(dataDir, "rejected"), { maxAgeMs });
 * const reasonBytes = await rejected.writeReason(id, "parent answered 403 ERR_COMPUTER_REVOKED");
 * // … move the message to rejected.pathOf(id), then:
 * await rejected.added(id, messageBytes + reasonBytes);
 * ```
 */
export class RejectedFolder {
  /** The folder. */
  readonly dir: string;
  readonly #maxAgeMs: number;
  readonly #maxBytes: number;
  /** Rejected messages, in the order they were refused. */
  #entries: RejectedEntry[] = [];
  #bytes = 0;

  private constructor(dir: string, limits: RejectedFolderLimits) {
    this.dir = dir;
    this.#maxAgeMs = limits.maxAgeMs ?? Infinity;
    this.#maxBytes = limits.maxBytes ?? Infinity;
  }

  /**
   * Opens (creates, mode 0700) and indexes the folder: each message's time of refusal is its
   * reason's write time.
   */
  static async open(dir: string, limits: RejectedFolderLimits = {}): Promise<RejectedFolder> {
    const folder = new RejectedFolder(dir, limits);
    await ensurePrivateDir(dir);
    const entries = new Map<string, RejectedEntry>();
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const suffix = entry.name.endsWith(REASON_SUFFIX) ? REASON_SUFFIX : MESSAGE_SUFFIX;
      const id = entry.name.slice(0, -suffix.length);
      if (!entry.name.endsWith(suffix) || !isSpoolId(id)) continue;
      const info = await Deno.stat(joinPath(dir, entry.name));
      const known = entries.get(id) ?? { id, at: 0, size: 0 };
      known.size += info.size;
      const at = info.mtime?.getTime() ?? 0;
      if (suffix === REASON_SUFFIX || known.at === 0) known.at = at;
      entries.set(id, known);
    }
    folder.#entries = [...entries.values()].sort((a, b) => a.at - b.at);
    folder.#bytes = folder.#entries.reduce((sum, entry) => sum + entry.size, 0);
    return folder;
  }

  /** The ids indexed (those a crash left in the spool too are not delivered again). */
  ids(): Set<string> {
    return new Set(this.#entries.map((entry) => entry.id));
  }

  /** Where a rejected message's bytes go. */
  pathOf(id: string): string {
    return joinPath(this.dir, `${id}${MESSAGE_SUFFIX}`);
  }

  /**
   * Writes a message's reason (first, before the message moves here, so that a crash between
   * the two leaves the message in the spool, to be refused and recorded again).
   *
   * @returns the reason's bytes.
   */
  async writeReason(id: string, reason: string): Promise<number> {
    const line = `${new Date().toISOString()} ${reason.replace(/[\r\n]+/g, " ")}\n`;
    await replaceFileAtomically(joinPath(this.dir, `${id}${REASON_SUFFIX}`), line, 0o600);
    return new TextEncoder().encode(line).length;
  }

  /** Records a message moved here (`size`: its bytes and its reason's), then prunes. */
  async added(id: string, size: number): Promise<void> {
    this.#entries.push({ id, at: Date.now(), size });
    this.#bytes += size;
    await this.prune();
  }

  /**
   * Deletes the rejected messages (and their reasons) older than the maximum age, then the
   * oldest ones while the folder holds more than its maximum size.
   *
   * @returns how many were deleted.
   */
  async prune(now = Date.now()): Promise<number> {
    let pruned = 0;
    while (this.#entries.length > 0) {
      const oldest = this.#entries[0];
      const expired = now - oldest.at > this.#maxAgeMs;
      if (!expired && this.#bytes <= this.#maxBytes) break;
      this.#entries.shift();
      this.#bytes -= oldest.size;
      for (const suffix of [MESSAGE_SUFFIX, REASON_SUFFIX]) {
        await Deno.remove(joinPath(this.dir, `${oldest.id}${suffix}`)).catch((error) => {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        });
      }
      pruned++;
    }
    return pruned;
  }

  /** Bytes of the rejected messages and their reasons. */
  bytes(): number {
    return this.#bytes;
  }

  /** Ids of the rejected messages, oldest first, as the folder holds them now. */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      const id = entry.isFile ? idOfFileName(entry.name) : null;
      if (id !== null) ids.push(id);
    }
    return ids.sort();
  }
}
