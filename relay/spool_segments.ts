/**
 * The spool's durable storage with group commit: accepted messages are appended to segment files
 * (`<spool>/<first id>.segment`, records as in `spool_record.ts`), and the messages that arrive
 * while one group is being written make up the next, so that many concurrent reports share one
 * write and one fsync. Each {@linkcode SpoolSegments.append} resolves only once the fsync covering
 * its record is done (and, for a new segment, the fsync of the folder that names it): only then
 * may the message be acknowledged.
 *
 * A delivered (or rejected) message is marked done by appending its id to the segment's `.done`
 * file, not synced: if a crash loses the mark, the message is sent again, and the parent answers
 * that it already has it. A segment whose messages are all done is deleted.
 *
 * On open, each segment is read from its start: a record that a crash cut short or damaged, and
 * everything after it (the last group, never acknowledged), is dropped and the file truncated
 * there. Segments found on open are never appended to again.
 *
 * @module
 */

import { joinPath, syncDir } from "../keystore/secure_file.ts";
import {
  readSpoolSegment,
  SPOOL_RECORD_HEADER_BYTES,
  spoolRecordSize,
  writeSpoolRecord,
} from "./spool_record.ts";

/** File name suffix of a segment. */
export const SEGMENT_SUFFIX = ".segment";
/** File name suffix of a segment's list of done ids. */
const DONE_SUFFIX = ".done";
/** A new segment is begun once the current one holds this many bytes: 8 MiB. */
export const DEFAULT_SEGMENT_MAX_BYTES = 8 * 1024 * 1024;
/** Most bytes of recently accepted messages kept in memory for the forwarder: 32 MiB. */
export const DEFAULT_RECENT_MAX_BYTES = 32 * 1024 * 1024;
/** Below this size an emptied current segment is kept for more appends rather than deleted. */
const KEEP_EMPTY_CURRENT_BELOW = 1024 * 1024;

/** A message found in the segments on open. */
export interface StoredMessage {
  id: string;
  sender: number | null;
  size: number;
}

/** Tuning of {@linkcode SpoolSegments}, for tests and the benchmark. */
export interface SpoolSegmentsOptions {
  /** Bytes after which a new segment is begun (default 8 MiB). */
  segmentMaxBytes?: number;
  /** Bytes of recent messages kept in memory (default 32 MiB). */
  recentMaxBytes?: number;
}

interface Segment {
  name: string;
  path: string;
  /** Open for appends while this is the current segment; null once sealed. */
  file: Deno.FsFile | null;
  /** Bytes of whole records written. */
  size: number;
  /** Messages not yet done. */
  live: number;
  /** Where done ids are appended (opened on first use). */
  doneFile: Deno.FsFile | null;
  /** Done ids waiting to be written. */
  doneQueue: string[];
  doneWriting: Promise<void> | null;
}

interface Place {
  segment: Segment;
  offset: number;
  length: number;
}

interface PendingAppend {
  id: string;
  sender: number | undefined;
  message: Uint8Array;
  /** The bytes of its record. */
  size: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** The segment files of one spool folder. */
export class SpoolSegments {
  readonly #dir: string;
  readonly #segmentMaxBytes: number;
  readonly #recentMaxBytes: number;
  readonly #places = new Map<string, Place>();
  readonly #segments = new Map<string, Segment>();
  /** Messages accepted by this process, kept while there is room, so forwarding reads no disk. */
  readonly #recent = new Map<string, Uint8Array>();
  #recentBytes = 0;
  #current: Segment | null = null;
  #pending: PendingAppend[] = [];
  #flushScheduled = false;
  #writing = false;
  #groups = 0;

  private constructor(dir: string, options: SpoolSegmentsOptions) {
    this.#dir = dir;
    this.#segmentMaxBytes = options.segmentMaxBytes ?? DEFAULT_SEGMENT_MAX_BYTES;
    this.#recentMaxBytes = options.recentMaxBytes ?? DEFAULT_RECENT_MAX_BYTES;
  }

  /**
   * Reads the segments of a spool folder: their whole records, less those marked done or in
   * `alreadyRejected`, oldest first. Torn tails are cut off; segments with nothing left are deleted.
   */
  static async open(
    dir: string,
    alreadyRejected: ReadonlySet<string>,
    options: SpoolSegmentsOptions = {},
  ): Promise<{ segments: SpoolSegments; messages: StoredMessage[]; droppedBytes: number }> {
    const segments = new SpoolSegments(dir, options);
    const names: string[] = [];
    const doneNames = new Set<string>();
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      if (entry.name.endsWith(SEGMENT_SUFFIX)) names.push(entry.name);
      else if (entry.name.endsWith(DONE_SUFFIX)) doneNames.add(entry.name);
    }
    names.sort();
    const messages: StoredMessage[] = [];
    let droppedBytes = 0;
    let changed = false;
    for (const name of names) {
      const path = joinPath(dir, name);
      const { contents, fileBytes, done } = await readSegmentFile(dir, name);
      if (contents.validBytes < fileBytes) {
        droppedBytes += fileBytes - contents.validBytes;
        await Deno.truncate(path, contents.validBytes);
      }
      doneNames.delete(doneNameOf(name));
      const segment: Segment = {
        name,
        path,
        file: null,
        size: contents.validBytes,
        live: 0,
        doneFile: null,
        doneQueue: [],
        doneWriting: null,
      };
      for (const record of contents.records) {
        if (done.has(record.id) || alreadyRejected.has(record.id)) continue;
        segment.live += 1;
        segments.#places.set(record.id, { segment, offset: record.offset, length: record.length });
        messages.push({ id: record.id, sender: record.sender, size: record.length });
      }
      if (segment.live === 0) {
        await segments.#delete(segment);
        changed = true;
      } else {
        segments.#segments.set(name, segment);
      }
    }
    // Lists of done ids whose segment is gone.
    for (const doneName of doneNames) {
      await Deno.remove(joinPath(dir, doneName)).catch(() => {});
    }
    if (changed) await syncDir(dir);
    return { segments, messages, droppedBytes };
  }

  /**
   * Appends a message with the next group and resolves once that group is on disk (written and
   * synced). Rejects with the write's error; the message is then not stored.
   */
  append(id: string, sender: number | undefined, message: Uint8Array): Promise<void> {
    const size = spoolRecordSize(id, message);
    return new Promise((resolve, reject) => {
      this.#pending.push({ id, sender, message, size, resolve, reject });
      if (this.#flushScheduled || this.#writing) return;
      this.#flushScheduled = true;
      // A microtask: the appends of one task (a batch from a child relay) share the group.
      queueMicrotask(() => {
        this.#flushScheduled = false;
        void this.#flush();
      });
    });
  }

  /** Groups written and synced since open: one write and one fsync each. */
  get groupsCommitted(): number {
    return this.#groups;
  }

  /** Whether an id is stored here. */
  has(id: string): boolean {
    return this.#places.has(id);
  }

  /** Reads a message's bytes, from memory when it was accepted lately. */
  async read(id: string): Promise<Uint8Array<ArrayBuffer>> {
    const recent = this.#recent.get(id);
    if (recent) return recent.slice();
    const place = this.#places.get(id);
    if (!place) throw new Deno.errors.NotFound(`Cannot read spooled message ${id}: not stored`);
    using file = await Deno.open(place.segment.path, { read: true });
    await file.seek(place.offset, Deno.SeekMode.Start);
    const bytes = new Uint8Array(place.length);
    let filled = 0;
    while (filled < bytes.length) {
      const read = await file.read(bytes.subarray(filled));
      if (read === null) throw new Error(`Cannot read spooled message ${id}: segment cut short`);
      filled += read;
    }
    return bytes;
  }

  /**
   * Marks a message done: its id goes to its segment's done list (synced when `durable`), and a
   * segment with nothing left is deleted.
   */
  async done(id: string, durable = false): Promise<void> {
    const place = this.#places.get(id);
    if (!place) return;
    this.#places.delete(id);
    this.#forgetRecent(id);
    const segment = place.segment;
    segment.live -= 1;
    if (segment.live === 0 && this.#isDisposable(segment)) {
      this.#segments.delete(segment.name);
      if (segment === this.#current) this.#current = null;
      await segment.doneWriting;
      await this.#delete(segment);
      return;
    }
    segment.doneQueue.push(id);
    await this.#writeDone(segment, durable);
  }

  /** Closes the open files (appends still pending are refused). */
  async close(): Promise<void> {
    while (this.#writing) await new Promise((resolve) => setTimeout(resolve, 1));
    for (const pending of this.#pending.splice(0)) {
      pending.reject(new Error("Cannot spool the message: the spool is closed"));
    }
    for (const segment of this.#segments.values()) {
      await segment.doneWriting;
      closeQuietly(segment.file);
      closeQuietly(segment.doneFile);
      segment.file = null;
      segment.doneFile = null;
    }
    this.#current = null;
  }

  /**
   * A sealed segment may go once it is empty; the current one only when it is big enough to begin
   * another and no group is being appended to it.
   */
  #isDisposable(segment: Segment): boolean {
    if (segment !== this.#current) return true;
    return !this.#writing && segment.size >= KEEP_EMPTY_CURRENT_BELOW;
  }

  async #flush(): Promise<void> {
    if (this.#writing || this.#pending.length === 0) return;
    this.#writing = true;
    const group = this.#pending.splice(0);
    let segment: Segment | null = null;
    try {
      const created = this.#current === null || this.#current.size >= this.#segmentMaxBytes;
      if (created) segment = await this.#begin(group[0].id);
      else segment = this.#current!;
      // The group's records in one buffer: each message copied once, one write.
      const bytes = new Uint8Array(group.reduce((sum, pending) => sum + pending.size, 0));
      let end = 0;
      for (const pending of group) {
        end = writeSpoolRecord(bytes, end, pending.id, pending.sender, pending.message);
      }
      await writeAll(segment.file!, bytes);
      await segment.file!.syncData();
      if (created) await syncDir(this.#dir);
      this.#groups += 1;
      let offset = segment.size;
      for (const pending of group) {
        this.#places.set(pending.id, {
          segment,
          offset: offset + SPOOL_RECORD_HEADER_BYTES,
          length: pending.message.length,
        });
        offset += pending.size;
        this.#remember(pending.id, pending.message);
      }
      segment.size = offset;
      segment.live += group.length;
      for (const pending of group) pending.resolve();
    } catch (error) {
      // The segment may hold part of this group: append nothing more to it.
      if (segment) await this.#seal(segment);
      for (const pending of group) pending.reject(error);
    } finally {
      this.#writing = false;
      if (this.#pending.length > 0) void this.#flush();
    }
  }

  /** Begins a new current segment, named after its first record, and seals the last one. */
  async #begin(firstId: string): Promise<Segment> {
    if (this.#current) await this.#seal(this.#current);
    const name = `${firstId}${SEGMENT_SUFFIX}`;
    const path = joinPath(this.#dir, name);
    const file = await Deno.open(path, { createNew: true, write: true, mode: 0o600 });
    const segment: Segment = {
      name,
      path,
      file,
      size: 0,
      live: 0,
      doneFile: null,
      doneQueue: [],
      doneWriting: null,
    };
    this.#segments.set(name, segment);
    this.#current = segment;
    return segment;
  }

  /** Stops appending to a segment (cutting off a partial group), deleting it when empty. */
  async #seal(segment: Segment): Promise<void> {
    if (segment === this.#current) this.#current = null;
    const file = segment.file;
    segment.file = null;
    if (file) {
      await file.truncate(segment.size).catch(() => {});
      closeQuietly(file);
    }
    if (segment.live === 0) {
      this.#segments.delete(segment.name);
      await segment.doneWriting;
      await this.#delete(segment).catch(() => {});
    }
  }

  /** Writes a segment's queued done ids, one write for all that queued meanwhile. */
  async #writeDone(segment: Segment, durable: boolean): Promise<void> {
    while (segment.doneWriting) await segment.doneWriting;
    // Deleted meanwhile (its last message done): what it still queued needs no record.
    if (this.#segments.get(segment.name) !== segment) return;
    if (segment.doneQueue.length === 0 && !durable) return;
    const ids = segment.doneQueue.splice(0);
    segment.doneWriting = (async () => {
      segment.doneFile ??= await Deno.open(donepath(segment), {
        create: true,
        append: true,
        mode: 0o600,
      });
      if (ids.length > 0) {
        await writeAll(segment.doneFile, new TextEncoder().encode(`${ids.join("\n")}\n`));
      }
      if (durable) await segment.doneFile.syncData();
    })();
    try {
      await segment.doneWriting;
    } finally {
      segment.doneWriting = null;
    }
  }

  async #delete(segment: Segment): Promise<void> {
    closeQuietly(segment.file);
    closeQuietly(segment.doneFile);
    segment.file = null;
    segment.doneFile = null;
    // The segment first: if a crash kept it but not its done list, its messages go again as
    // duplicates, never lost.
    for (const path of [segment.path, donepath(segment)]) {
      await Deno.remove(path).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
  }

  #remember(id: string, message: Uint8Array): void {
    if (this.#recentBytes + message.length > this.#recentMaxBytes) return;
    // A view into a larger buffer (a batch) would keep all of it alive: keep a copy.
    const kept = message.byteLength === message.buffer.byteLength ? message : message.slice();
    this.#recent.set(id, kept);
    this.#recentBytes += kept.length;
  }

  #forgetRecent(id: string): void {
    const kept = this.#recent.get(id);
    if (!kept) return;
    this.#recent.delete(id);
    this.#recentBytes -= kept.length;
  }
}

function donepath(segment: Segment): string {
  return `${segment.path.slice(0, -SEGMENT_SUFFIX.length)}${DONE_SUFFIX}`;
}

function doneNameOf(segmentName: string): string {
  return `${segmentName.slice(0, -SEGMENT_SUFFIX.length)}${DONE_SUFFIX}`;
}

/** A segment file's whole records, its size, and the ids its done list names. */
async function readSegmentFile(dir: string, name: string) {
  const bytes = await Deno.readFile(joinPath(dir, name));
  return {
    contents: readSpoolSegment(bytes),
    fileBytes: bytes.length,
    done: await readDoneIds(joinPath(dir, doneNameOf(name))),
  };
}

/**
 * The messages waiting in a spool folder's segments, oldest first, read without changing anything
 * (a running relay's spool may be looked at).
 */
export async function readWaitingSegmentMessages(
  dir: string,
): Promise<Array<{ id: string; bytes: Uint8Array }>> {
  const messages: Array<{ id: string; bytes: Uint8Array }> = [];
  const names = [...Deno.readDirSync(dir)].map((entry) => entry.name)
    .filter((name) => name.endsWith(SEGMENT_SUFFIX)).sort();
  for (const name of names) {
    try {
      const bytes = await Deno.readFile(joinPath(dir, name));
      const done = await readDoneIds(joinPath(dir, doneNameOf(name)));
      for (const record of readSpoolSegment(bytes).records) {
        if (done.has(record.id)) continue;
        const message = bytes.subarray(record.offset, record.offset + record.length);
        messages.push({ id: record.id, bytes: message });
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // delivered meanwhile
    }
  }
  return messages;
}

async function readDoneIds(path: string): Promise<Set<string>> {
  try {
    return new Set((await Deno.readTextFile(path)).split("\n").filter((id) => id.length > 0));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Set();
    throw error;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

function closeQuietly(file: Deno.FsFile | null): void {
  try {
    file?.close();
  } catch {
    // already closed
  }
}
