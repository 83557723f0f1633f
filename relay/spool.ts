/**
 * The relay's store-and-forward queue: one file per accepted upstream message, in
 * `<data-dir>/spool/`, written durably before the sender is told "accepted".
 *
 * A message's id is its file name without `.json`: the acceptance time in milliseconds (16 digits),
 * a counter within that millisecond (6 digits) and 8 random hex digits. Ids therefore sort by
 * arrival, so the oldest is delivered first, and two relays' ids never collide.
 *
 * Messages the parent refuses for good move to `<data-dir>/rejected/` with a `.reason` text beside
 * them: kept for an administrator, never dropped silently.
 *
 * @module
 */

import {
  ensurePrivateDir,
  joinPath,
  replaceFileAtomically,
  syncDir,
} from "../keystore/secure_file.ts";

const ID_PATTERN = /^\d{16}-\d{6}-[0-9a-f]{8}$/;
const MESSAGE_SUFFIX = ".json";
/** `replaceFileAtomically` writes `<path>.tmp-<uuid>` before renaming it. */
const TEMPORARY_MARK = ".tmp-";

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
  /** Ids waiting, oldest first. */
  readonly #ids: string[] = [];
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  #lastTime = 0;
  #counter = 0;

  private constructor(dataDir: string) {
    this.dir = joinPath(dataDir, "spool");
    this.rejectedDir = joinPath(dataDir, "rejected");
  }

  /**
   * Opens the spool of a data dir: creates its folders (mode 0700), deletes the temporary files a
   * crash left half-written (never acknowledged, so nobody is owed them) and indexes the messages.
   */
  static async open(dataDir: string): Promise<Spool> {
    const spool = new Spool(dataDir);
    await ensurePrivateDir(spool.dir);
    await ensurePrivateDir(spool.rejectedDir);
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
      spool.#ids.push(id);
      spool.#sizes.set(id, size);
      spool.#bytes += size;
    }
    if (cleaned) await syncDir(spool.dir);
    spool.#ids.sort();
    const newest = spool.#ids.at(-1);
    if (newest) {
      spool.#lastTime = Number(newest.slice(0, 16));
      spool.#counter = Number(newest.slice(17, 23));
    }
    return spool;
  }

  /**
   * Stores a message durably (temporary file, fsync, rename, fsync folder) and returns its id.
   * When this resolves the message survives a crash or power loss; only then may it be
   * acknowledged.
   */
  async put(bytes: Uint8Array): Promise<string> {
    const id = this.#nextId();
    await replaceFileAtomically(this.#pathOf(id), bytes, 0o600);
    this.#insert(id, bytes.length);
    return id;
  }

  /** Ids waiting for delivery, oldest first; at most `limit` of them when given. */
  list(limit?: number): string[] {
    return limit === undefined ? [...this.#ids] : this.#ids.slice(0, limit);
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
    return await Deno.readFile(this.#pathOf(checkId(id)));
  }

  /**
   * Deletes a delivered message. Not synced: if a crash undoes the deletion, the message is sent
   * again and the parent recognises it as a duplicate.
   */
  async remove(id: string): Promise<void> {
    try {
      await Deno.remove(this.#pathOf(checkId(id)));
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
    checkId(id);
    const line = `${new Date().toISOString()} ${reason.replace(/[\r\n]+/g, " ")}\n`;
    await replaceFileAtomically(joinPath(this.rejectedDir, `${id}.reason`), line, 0o600);
    try {
      await Deno.rename(this.#pathOf(id), joinPath(this.rejectedDir, `${id}${MESSAGE_SUFFIX}`));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await syncDir(this.rejectedDir);
    await syncDir(this.dir);
    this.#forget(id);
  }

  /** Ids of the rejected messages, oldest first. */
  async listRejected(): Promise<string[]> {
    const ids: string[] = [];
    for await (const entry of Deno.readDir(this.rejectedDir)) {
      const id = entry.isFile ? idOfFileName(entry.name) : null;
      if (id !== null) ids.push(id);
    }
    return ids.sort();
  }

  /** Number of messages waiting. */
  count(): number {
    return this.#ids.length;
  }

  /** Total size of the messages waiting, in bytes. */
  bytes(): number {
    return this.#bytes;
  }

  #pathOf(id: string): string {
    return joinPath(this.dir, `${id}${MESSAGE_SUFFIX}`);
  }

  /** A new id, strictly greater than every earlier one even if the clock steps back. */
  #nextId(): string {
    const now = Date.now();
    if (now > this.#lastTime) {
      this.#lastTime = now;
      this.#counter = 0;
    } else {
      this.#counter += 1;
      if (this.#counter > 999_999) {
        this.#lastTime += 1;
        this.#counter = 0;
      }
    }
    const random = crypto.getRandomValues(new Uint8Array(4)).toHex();
    return `${String(this.#lastTime).padStart(16, "0")}-${
      String(this.#counter).padStart(6, "0")
    }-${random}`;
  }

  /** Inserts in order: concurrent puts may finish in another order than they began. */
  #insert(id: string, size: number): void {
    let low = 0;
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

  #forget(id: string): void {
    const size = this.#sizes.get(id);
    if (size === undefined) return;
    this.#sizes.delete(id);
    this.#bytes -= size;
    const index = this.#ids.indexOf(id);
    if (index >= 0) this.#ids.splice(index, 1);
  }
}

function idOfFileName(name: string): string | null {
  if (!name.endsWith(MESSAGE_SUFFIX)) return null;
  const id = name.slice(0, -MESSAGE_SUFFIX.length);
  return ID_PATTERN.test(id) ? id : null;
}

function checkId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new RangeError(`Cannot use spool id "${id}": malformed`);
  return id;
}
