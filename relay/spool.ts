/**
 * The relay's store-and-forward queue of accepted upstream messages, in `<data-dir>/spool/`,
 * written durably before the sender is told "accepted". Messages are appended to segment files
 * with group commit (`spool_segments.ts`): the messages that arrive together share one write and
 * one fsync, and each is acknowledged only after the fsync that covers it. A data dir from before
 * segments, one `<id>.json` file per message, is still read and delivered, file by file.
 *
 * A message's id sorts by arrival (`relay/spool_id.ts`), so the oldest is delivered first.
 *
 * Messages the parent refuses for good move to `<data-dir>/rejected/` with a `.reason` text beside
 * them (`relay/rejected_folder.ts`): kept for an administrator, never dropped silently, until
 * they pass the rejected folder's maximum age or size (oldest first).
 *
 * The spool is bounded ({@linkcode SpoolLimits}): a message that would pass its maximum size, or
 * its sender's share of it, is not taken ({@linkcode SpoolFullError}), and the sender keeps it
 * and tries later; nothing already taken is ever dropped to make room. Room is reserved before
 * the write, so concurrent puts never pass the maximum together.
 *
 * @module
 */

import { readUpstreamMessage } from "../envelope/report_message.ts";
import {
  readWaitingSegmentMessages,
  SpoolSegments,
  type SpoolSegmentsOptions,
} from "./spool_segments.ts";
import {
  ensurePrivateDir,
  joinPath,
  replaceFileAtomically,
  syncDir,
} from "../keystore/secure_file.ts";
import { RejectedFolder } from "./rejected_folder.ts";
import { arrivalOf, checkSpoolId, idOfFileName, MESSAGE_SUFFIX, SpoolIds } from "./spool_id.ts";
/** `replaceFileAtomically` writes `<path>.tmp-<uuid>` before renaming it. */
const TEMPORARY_MARK = ".tmp-";

/** Most bytes the spool holds by default (`--spool-max-size`): 2 GiB. */
export const DEFAULT_SPOOL_MAX_BYTES = 2 * 1024 ** 3;

/** The bounds of a spool. */
export interface SpoolLimits {
  /** Most bytes of messages waiting (default: no limit). */
  maxBytes?: number;
  /** Most bytes of messages waiting from one computer (default: `maxBytes`). */
  maxBytesPerComputer?: number;
  /** How long a rejected message is kept, in milliseconds (default: for ever). */
  rejectedMaxAgeMs?: number;
  /** Most bytes of rejected messages and reasons kept; the oldest go first (default: no limit). */
  rejectedMaxBytes?: number;
}

/** Most bytes the rejected folder holds by default (`--rejected-max-size`): 256 MiB. */
export const DEFAULT_REJECTED_MAX_BYTES = 256 * 1024 ** 2;
/** How long rejected messages are kept by default (`--rejected-max-age`): 7 days. */
export const DEFAULT_REJECTED_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** Which bound a message would pass. */
export type SpoolFullScope = "spool" | "computer";

/** A message the spool has no room for now: the sender keeps it and tries later. */
export class SpoolFullError extends Error {
  /** The whole spool is full, or only the sender's share of it. */
  readonly scope: SpoolFullScope;

  constructor(scope: SpoolFullScope, limit: number) {
    super(
      scope === "spool"
        ? `Cannot spool the message: the spool holds its maximum of ${limit} bytes`
        : `Cannot spool the message: its computer's messages fill their share of ${limit} bytes`,
    );
    this.name = "SpoolFullError";
    this.scope = scope;
  }
}

/**
 * A durable queue of upstream messages in a folder.
 *
 * @example
 * ```ts
 * import { Spool } from "./spool.ts";
 * const spool = await Spool.open(await Deno.makeTempDir());
 * const id = await spool.put(new TextEncoder().encode("{}"));
 * console.log(spool.list()[0] === id); // true
 * await spool.remove(id);
 * console.log(spool.count()); // 0
 * ```
 */
export class Spool {
  /** Folder of the messages waiting for delivery. */
  readonly dir: string;
  /** Folder of the messages the parent refused for good. */
  readonly rejectedDir: string;
  #rejected!: RejectedFolder;
  /**
   * Ids waiting, oldest first, from `#head` on; a delivered id stays until the head passes it
   * (`#sizes` says which are still waiting), so that removing the oldest costs no shifting.
   */
  #ids: string[] = [];
  #head = 0;
  readonly #sizes = new Map<string, number>();
  /** The waiting messages stored one file each (a data dir from before segments). */
  readonly #fileIds = new Set<string>();
  #segments!: SpoolSegments;
  /** The sender of each waiting message whose sender is known. */
  readonly #senders = new Map<string, number>();
  /** Bytes waiting (and reserved) per sender. */
  readonly #senderBytes = new Map<number, number>();
  readonly #maxBytes: number;
  readonly #maxBytesPerComputer: number;
  #bytes = 0;
  /** Bytes of puts under way. */
  #reserved = 0;
  #idSource = new SpoolIds();

  private constructor(dataDir: string, limits: SpoolLimits) {
    this.dir = joinPath(dataDir, "spool");
    this.rejectedDir = joinPath(dataDir, "rejected");
    this.#maxBytes = limits.maxBytes ?? Infinity;
    this.#maxBytesPerComputer = Math.min(limits.maxBytesPerComputer ?? Infinity, this.#maxBytes);
    const bounds = [
      this.#maxBytes,
      this.#maxBytesPerComputer,
      limits.rejectedMaxAgeMs ?? Infinity,
      limits.rejectedMaxBytes ?? Infinity,
    ];
    if (!bounds.every((bound) => bound > 0)) {
      throw new RangeError("Cannot open spool: its maximum sizes and age must be positive");
    }
  }

  /**
   * Opens the spool of a data dir: creates its folders (mode 0700), drops what a crash left
   * half-written (temporary files, a segment's torn last group: never acknowledged, so nobody is
   * owed them) and indexes the messages and their senders (a message file it cannot read counts
   * towards the total only).
   *
   * @param tuning segment and memory sizes (tests, the benchmark).
   * @throws {RangeError} When a limit is not positive.
   */
  static async open(
    dataDir: string,
    limits: SpoolLimits = {},
    tuning: SpoolSegmentsOptions = {},
  ): Promise<Spool> {
    const spool = new Spool(dataDir, limits);
    await ensurePrivateDir(spool.dir);
    spool.#rejected = await RejectedFolder.open(spool.rejectedDir, {
      maxAgeMs: limits.rejectedMaxAgeMs,
      maxBytes: limits.rejectedMaxBytes,
    });
    const stored = await SpoolSegments.open(spool.dir, spool.#rejected.ids(), tuning);
    spool.#segments = stored.segments;
    spool.droppedBytes = stored.droppedBytes;
    for (const message of stored.messages) {
      spool.#ids.push(message.id);
      spool.#sizes.set(message.id, message.size);
      spool.#bytes += message.size;
      if (message.sender !== null) spool.#countSender(message.id, message.sender, message.size);
    }
    let cleaned = false;
    for await (const entry of Deno.readDir(spool.dir)) {
      if (!entry.isFile) continue;
      const path = joinPath(spool.dir, entry.name);
      if (entry.name.includes(TEMPORARY_MARK)) {
        await Deno.remove(path).catch(() => {});
        cleaned = true;
        continue;
      }
      const id = idOfFileName(entry.name);
      if (id === null) continue;
      const size = (await Deno.stat(path)).size;
      spool.#fileIds.add(id);
      spool.#ids.push(id);
      spool.#sizes.set(id, size);
      spool.#bytes += size;
      if (spool.#maxBytesPerComputer < Infinity) {
        const sender = senderOf(await Deno.readFile(path));
        if (sender !== null) spool.#countSender(id, sender, size);
      }
    }
    if (cleaned) await syncDir(spool.dir);
    spool.#ids.sort();
    spool.#idSource = new SpoolIds(spool.#ids.at(-1));
    return spool;
  }

  /**
   * The messages waiting in a data dir's spool, oldest first, read without changing anything: a
   * running relay's spool may be looked at (tests, an operator).
   */
  static async waitingIn(dataDir: string): Promise<Array<{ id: string; bytes: Uint8Array }>> {
    const dir = joinPath(dataDir, "spool");
    const messages = await readWaitingSegmentMessages(dir);
    for await (const entry of Deno.readDir(dir)) {
      const id = entry.isFile ? idOfFileName(entry.name) : null;
      if (id === null) continue;
      try {
        messages.push({ id, bytes: await Deno.readFile(joinPath(dir, entry.name)) });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error; // delivered meanwhile
      }
    }
    return messages.sort((a, b) => a.id < b.id ? -1 : 1);
  }

  /** Bytes of torn or damaged records dropped from the segments' ends when the spool opened. */
  droppedBytes = 0;

  /**
   * Stores a message durably (appended with the next group, written and fsynced) and returns its
   * id. When this resolves the message survives a crash or power loss; only then may it be
   * acknowledged.
   *
   * @param sender the computer that sent it, whose share of the spool it counts against.
   * @throws {SpoolFullError} When the message would pass the spool's maximum or its sender's
   * share; nothing is written then.
   */
  async put(bytes: Uint8Array, sender?: number): Promise<string> {
    const size = bytes.length;
    // Checked and reserved before the first await, so that concurrent puts see each other.
    if (this.#bytes + this.#reserved + size > this.#maxBytes) {
      throw new SpoolFullError("spool", this.#maxBytes);
    }
    if (sender !== undefined && this.bytesOf(sender) + size > this.#maxBytesPerComputer) {
      throw new SpoolFullError("computer", this.#maxBytesPerComputer);
    }
    this.#reserved += size;
    if (sender !== undefined) this.#addSenderBytes(sender, size);
    const id = this.#idSource.next();
    try {
      await this.#segments.append(id, sender, bytes);
    } catch (error) {
      if (sender !== undefined) this.#addSenderBytes(sender, -size);
      throw spoolWriteError(error);
    } finally {
      this.#reserved -= size;
    }
    if (sender !== undefined) this.#senders.set(id, sender);
    this.#insert(id, size);
    return id;
  }

  /** Whether a message of `size` bytes would pass the spool's maximum now (its sender aside). */
  isFull(size = 1): boolean {
    return this.#bytes + this.#reserved + size > this.#maxBytes;
  }

  /** Bytes waiting (or being written) from one computer. */
  bytesOf(sender: number): number {
    return this.#senderBytes.get(sender) ?? 0;
  }

  /** Ids waiting for delivery, oldest first; at most `limit` of them when given. */
  list(limit = Infinity): string[] {
    while (this.#head < this.#ids.length && !this.#sizes.has(this.#ids[this.#head])) {
      this.#head += 1;
    }
    const ids: string[] = [];
    for (let i = this.#head; i < this.#ids.length && ids.length < limit; i++) {
      if (this.#sizes.has(this.#ids[i])) ids.push(this.#ids[i]);
    }
    return ids;
  }

  /** The bytes of a waiting message (0 when it is not waiting). */
  sizeOf(id: string): number {
    return this.#sizes.get(id) ?? 0;
  }

  /** Whether a message is waiting. */
  has(id: string): boolean {
    return this.#sizes.has(id);
  }

  /**
   * Reads a waiting message's bytes, exactly as received.
   *
   * @throws {RangeError} When `id` is not a spool id.
   */
  async read(id: string): Promise<Uint8Array<ArrayBuffer>> {
    checkSpoolId(id);
    if (this.#fileIds.has(id) || !this.#segments.has(id)) {
      return await Deno.readFile(this.#pathOf(id));
    }
    return await this.#segments.read(id);
  }

  /**
   * Reads a waiting message, or null when its file vanished (deleted by hand, say): it is then
   * forgotten, so that nothing tries it again.
   *
   * @throws {RangeError} When `id` is not a spool id.
   */
  async readWaiting(id: string): Promise<Uint8Array<ArrayBuffer> | null> {
    try {
      return await this.read(id);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await this.remove(id);
      return null;
    }
  }

  /**
   * Deletes a delivered message. Not synced: if a crash undoes the deletion, the message is sent
   * again and the parent recognises it as a duplicate.
   */
  async remove(id: string): Promise<void> {
    checkSpoolId(id);
    if (this.#segments.has(id)) {
      await this.#segments.done(id);
      this.#forget(id);
      return;
    }
    try {
      await Deno.remove(this.#pathOf(id));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    this.#forget(id);
  }

  /**
   * Moves a message the parent refused for good to the rejected folder, with a `.reason` text
   * beside it (written first, so a crash between the two leaves the message in the spool, to be
   * refused and recorded again).
   */
  async reject(id: string, reason: string): Promise<void> {
    checkSpoolId(id);
    const reasonBytes = await this.#rejected.writeReason(id, reason);
    const rejectedPath = this.#rejected.pathOf(id);
    const size = this.#sizes.get(id) ?? 0;
    if (this.#segments.has(id)) {
      // A copy in rejected/, synced, before the record is marked done (durably, so that it does
      // not come back once rejected/ has expired it).
      await replaceFileAtomically(rejectedPath, await this.#segments.read(id), 0o600);
      await this.#segments.done(id, true);
      this.#forget(id);
    } else {
      try {
        await Deno.rename(this.#pathOf(id), rejectedPath);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      await syncDir(this.rejectedDir);
      await syncDir(this.dir);
      this.#forget(id);
    }
    await this.#rejected.added(id, size + reasonBytes);
  }

  /**
   * Deletes the rejected messages (and their reasons) older than the maximum age, then the
   * oldest ones while the folder holds more than its maximum size.
   *
   * @returns how many were deleted.
   */
  pruneRejected(now = Date.now()): Promise<number> {
    return this.#rejected.prune(now);
  }

  /** Bytes of the rejected messages and their reasons. */
  rejectedBytes(): number {
    return this.#rejected.bytes();
  }

  /** Ids of the rejected messages, oldest first. */
  listRejected(): Promise<string[]> {
    return this.#rejected.list();
  }

  /** Number of messages waiting. */
  count(): number {
    return this.#sizes.size;
  }

  /** Groups of messages written and synced since open (each one write and one fsync). */
  get groupsCommitted(): number {
    return this.#segments.groupsCommitted;
  }

  /** Closes the segment files; puts still waiting for their group are refused. */
  async close(): Promise<void> {
    await this.#segments.close();
  }

  /** Total size of the messages waiting, in bytes. */
  bytes(): number {
    return this.#bytes;
  }

  /** What the metrics read: messages and bytes waiting, when the oldest arrived (null: none). */
  stats(): { messages: number; bytes: number; oldestAt: number | null } {
    const oldest = this.list(1)[0];
    return {
      messages: this.#sizes.size,
      bytes: this.#bytes,
      oldestAt: oldest === undefined ? null : arrivalOf(oldest),
    };
  }

  #pathOf(id: string): string {
    return joinPath(this.dir, `${id}${MESSAGE_SUFFIX}`);
  }

  /** Inserts in order: groups commit in order, so this is almost always an append. */
  #insert(id: string, size: number): void {
    if (this.#ids.length === this.#head || this.#ids[this.#ids.length - 1] < id) {
      this.#ids.push(id);
      this.#sizes.set(id, size);
      this.#bytes += size;
      return;
    }
    let low = this.#head;
    let high = this.#ids.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#ids[middle] < id) low = middle + 1;
      else high = middle;
    }
    this.#ids.splice(low, 0, id);
    this.#sizes.set(id, size);
    this.#bytes += size;
  }

  #countSender(id: string, sender: number, size: number): void {
    this.#senders.set(id, sender);
    this.#addSenderBytes(sender, size);
  }

  #addSenderBytes(sender: number, delta: number): void {
    const bytes = (this.#senderBytes.get(sender) ?? 0) + delta;
    if (bytes > 0) this.#senderBytes.set(sender, bytes);
    else this.#senderBytes.delete(sender);
  }

  #forget(id: string): void {
    const size = this.#sizes.get(id);
    if (size === undefined) return;
    this.#sizes.delete(id);
    this.#bytes -= size;
    const sender = this.#senders.get(id);
    if (sender !== undefined) {
      this.#senders.delete(id);
      this.#addSenderBytes(sender, -size);
    }
    this.#fileIds.delete(id);
    // The id stays in #ids until the head passes it; compact once most of the array is gone.
    if (this.#ids.length > 2 * this.#sizes.size + 1024) {
      this.#ids = this.#ids.slice(this.#head).filter((waiting) => this.#sizes.has(waiting));
      this.#head = 0;
    }
  }
}

/**
 * The one mapping of a failed durable write to what `put` throws: the place to turn a full disk
 * into a refusal the sender can retry.
 */
function spoolWriteError(error: unknown): unknown {
  return error;
}

/** The computer id an upstream message claims, or null when it is not one. */
function senderOf(bytes: Uint8Array): number | null {
  try {
    return readUpstreamMessage(JSON.parse(new TextDecoder().decode(bytes))).claims.cid;
  } catch {
    return null;
  }
}
