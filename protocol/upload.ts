/**
 * The Upload Manager's wire format: what a client, a relay and the server say to each other about
 * a file upload. Pure: no keys, no files, no HTTP.
 *
 * An upload is one file, split into chunks of `chunkSize` bytes (the last may be shorter; an empty
 * file is one empty chunk), and named by a random 128-bit upload id chosen by the client. It travels
 * as:
 *
 * 1. `POST /api/v1/uploads`: the manifest message, signed by the client and, when encrypting, a JWE
 *    to the server's key whose content key is the upload's fresh **file key**
 *    (`envelope/upload_manifest.ts`). Its protected header names, in clear, the computer id, the
 *    upload id, the chunk size and the chunk count; the file's name, size and SHA-256 are inside.
 *    The answer is the upload's status (below). Posting the same manifest again is harmless.
 * 2. `PUT /api/v1/uploads/<computer id>/<upload id>/<index>`: one chunk per request, its body
 *    sealed with AES-256-GCM under a key derived from the file key, with the computer id, upload
 *    id, index and a final-chunk flag authenticated; or, in clear, the plaintext after an Ed25519
 *    signature over the same context and the chunk's SHA-256 (`envelope/upload_chunk.ts`).
 * 3. `GET /api/v1/uploads/<computer id>/<upload id>`: the status: state, chunks received, and the
 *    ranges still missing, which is what a client (re)sends after any restart.
 * 4. `GET /api/v1/uploads`: the upstream limits (largest chunk, throttle) a client must respect.
 *
 * A relay answers the same paths: it passes a chunk straight on when its parent takes it at once
 * (answering 200 with the parent's answer), and otherwise stores it in its buffer folder and
 * forwards it later (answering 202); its status is the union of what it holds and what its
 * parent holds.
 *
 * @module
 */

import type { UploadClaims } from "../envelope/upload_manifest.ts";

export type { UploadClaims };

/** Setting: the client's chunk size in bytes (the original's name and default). */
export const CHUNK_SIZE_SETTING = "_BESClient_UploadManager_ChunkSize";
/** Setting: the client's upload throttle in KiB/s; 0 means unlimited. */
export const THROTTLE_SETTING = "_BESClient_UploadManager_ThrottleKBPS";
/** Setting: the most bytes a relay's upload buffer folder may hold. */
export const RELAY_BUFFER_SETTING = "_BESRelay_UploadManager_BufferDirectoryMaxSize";

/** The original's default chunk size: 128 KiB. */
export const DEFAULT_CHUNK_SIZE = 131_072;
/** Smallest chunk size accepted. */
export const MIN_CHUNK_SIZE = 1024;
/** Largest chunk size any role accepts (a server or relay may advertise less). */
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
/** Largest chunk count: bounds the server's per-upload bitmap to 256 KiB. */
export const MAX_CHUNK_COUNT = 2 ** 21;
/** Largest manifest message, in bytes. */
export const MAX_MANIFEST_MESSAGE_BYTES = 64 * 1024;
/** Longest declared file name, in UTF-8 bytes (the stored name is shortened further). */
export const MAX_DECLARED_NAME_BYTES = 1024;
/** Longest stored file name, in UTF-8 bytes (most file systems allow 255). */
export const MAX_STORED_NAME_BYTES = 200;
/** Default of a relay's upload buffer: 10 GiB. */
export const DEFAULT_RELAY_BUFFER_MAX_BYTES = 10 * 1024 ** 3;
/** Bytes an encrypted chunk adds to its plaintext: the GCM tag. */
export const SEALED_CHUNK_OVERHEAD = 16;
/** Bytes a clear chunk adds to its plaintext: the client's Ed25519 signature, in front. */
export const SIGNED_CHUNK_OVERHEAD = 64;
/** Most missing ranges a status lists; a client asks again once it sent those. */
export const MAX_STATUS_RANGES = 256;

/** Error code: the relay's buffer or the server is full for now; retry after `Retry-After`. */
export const RETRY_LATER_CODE = "ERR_RETRY_LATER";

const UPLOAD_ID_PATTERN = /^[0-9a-f]{32}$/;
const COMPUTER_ID_PATTERN = /^[1-9][0-9]{0,15}$/;
const INDEX_PATTERN = /^(0|[1-9][0-9]{0,9})$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** The manifest: what the client declares about the file, signed and (encrypting) sealed. */
export interface UploadManifest {
  v: 1;
  /** Upload id: 32 lowercase hex digits. */
  uid: string;
  /** The sender's computer id. */
  cid: number;
  /** The file's name as the client gave it (the server sanitises it before use). */
  name: string;
  /** The file's size in bytes. */
  size: number;
  /** SHA-256 of the whole file, lowercase hex. */
  sha256: string;
  chunkSize: number;
  chunkCount: number;
  /** ISO time the file was queued. */
  createdAt: string;
}

/** Where an upload stands. */
export type UploadState = "receiving" | "complete" | "failed" | "refused";

/** The status every role answers for an upload. */
export interface UploadStatus {
  uploadId: string;
  computerId: number;
  state: UploadState;
  chunkCount: number;
  /** Chunks held upstream of the caller (by this role or further up). */
  received: number;
  /** Chunks the server itself holds, when known (a relay may not know it right now). */
  stored: number | null;
  /** Half-open ranges [start, end) of chunk indexes still missing, at most MAX_STATUS_RANGES. */
  missing: Array<[number, number]>;
  /** True when more ranges are missing than `missing` lists. */
  missingTruncated: boolean;
  /** Why the upload failed or was refused. */
  error: { code: string; message: string } | null;
}

/** What an upstream role allows: the smaller of the client's and these wins. */
export interface UploadLimits {
  /** Largest chunk accepted, in bytes. */
  maxChunkBytes: number;
  /** Throttle in KiB/s; 0 means unlimited. */
  throttleKBPS: number;
}

/** True for a well-formed upload id. */
export function isUploadId(value: unknown): value is string {
  return typeof value === "string" && UPLOAD_ID_PATTERN.test(value);
}

/** A new random upload id. */
export function newUploadId(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toHex();
}

/**
 * The number of chunks of a file: an empty file is one empty chunk.
 *
 * @example
 * ```ts
 * import { chunkCountOf } from "./upload.ts";
 * console.log(chunkCountOf(300_000, 131_072)); // 3
 * console.log(chunkCountOf(0, 131_072)); // 1
 * ```
 */
export function chunkCountOf(size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize));
}

/** The plaintext length of chunk `index` of a file. */
export function chunkLengthOf(size: number, chunkSize: number, index: number): number {
  const count = chunkCountOf(size, chunkSize);
  if (index < count - 1) return chunkSize;
  return size - (count - 1) * chunkSize;
}

/** Bytes a chunk's body adds to its plaintext, encrypted or clear. */
export function chunkOverhead(encrypted: boolean): number {
  return encrypted ? SEALED_CHUNK_OVERHEAD : SIGNED_CHUNK_OVERHEAD;
}

/**
 * Checks the clear claims of a manifest message.
 *
 * @returns an error message, or null when they are acceptable.
 */
export function checkClaims(claims: Record<string, unknown>): string | null {
  const { cid, uid, cs, cc, kid } = claims;
  if (!Number.isSafeInteger(cid) || (cid as number) < 1) return "cid must be a computer id";
  if (!isUploadId(uid)) return "uid must be 32 lowercase hex digits";
  if (
    !Number.isSafeInteger(cs) || (cs as number) < MIN_CHUNK_SIZE || (cs as number) > MAX_CHUNK_SIZE
  ) {
    return `cs must be a chunk size from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} bytes`;
  }
  if (!Number.isSafeInteger(cc) || (cc as number) < 1 || (cc as number) > MAX_CHUNK_COUNT) {
    return `cc must be a chunk count from 1 to ${MAX_CHUNK_COUNT}`;
  }
  if (kid !== null && typeof kid !== "string") return "kid must be a key id or null";
  return null;
}

/**
 * Checks a decoded manifest against the claims its envelope made.
 *
 * @returns an error message, or null when the manifest is acceptable.
 */
export function checkManifest(value: unknown, claims: UploadClaims): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "manifest is not a JSON object";
  }
  const manifest = value as UploadManifest;
  if (manifest.v !== 1) return 'manifest "v" must be 1';
  if (
    manifest.uid !== claims.uid || manifest.cid !== claims.cid ||
    manifest.chunkSize !== claims.cs || manifest.chunkCount !== claims.cc
  ) {
    return "manifest names another upload id, computer id, chunk size or count than its envelope";
  }
  if (typeof manifest.name !== "string" || manifest.name.length === 0) {
    return "name must be a non-empty string";
  }
  if (new TextEncoder().encode(manifest.name).length > MAX_DECLARED_NAME_BYTES) {
    return `name must be at most ${MAX_DECLARED_NAME_BYTES} bytes`;
  }
  if (!Number.isSafeInteger(manifest.size) || manifest.size < 0) {
    return "size must be a non-negative integer";
  }
  if (chunkCountOf(manifest.size, manifest.chunkSize) !== manifest.chunkCount) {
    return "chunkCount does not match size and chunkSize";
  }
  if (typeof manifest.sha256 !== "string" || !SHA256_PATTERN.test(manifest.sha256)) {
    return "sha256 must be 64 lowercase hex digits";
  }
  if (typeof manifest.createdAt !== "string" || manifest.createdAt.length > 64) {
    return "createdAt must be an ISO time";
  }
  return null;
}

/** The three parts of a chunk path, or null when any is malformed. */
export function parseChunkPath(
  cid: string,
  uid: string,
  index?: string,
): { cid: number; uid: string; index: number } | null {
  if (!COMPUTER_ID_PATTERN.test(cid) || !isUploadId(uid)) return null;
  if (index === undefined) return { cid: Number(cid), uid, index: -1 };
  if (!INDEX_PATTERN.test(index)) return null;
  const value = Number(index);
  if (value >= MAX_CHUNK_COUNT) return null;
  return { cid: Number(cid), uid, index: value };
}

/**
 * Which chunks of an upload are held, one bit each: at most MAX_CHUNK_COUNT bits (256 KiB).
 *
 * @example
 * ```ts
 * import { ChunkBitmap } from "./upload.ts";
 * const bitmap = new ChunkBitmap(5);
 * bitmap.set(0);
 * bitmap.set(3);
 * console.log(bitmap.missingRanges(10).ranges); // [[1, 3], [4, 5]]
 * ```
 */
export class ChunkBitmap {
  readonly count: number;
  readonly #bits: Uint8Array;
  #held = 0;

  constructor(count: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_CHUNK_COUNT) {
      throw new RangeError(`Cannot track ${count} chunks: expected 1 to ${MAX_CHUNK_COUNT}`);
    }
    this.count = count;
    this.#bits = new Uint8Array(Math.ceil(count / 8));
    if (bytes) {
      if (bytes.length !== this.#bits.length) {
        throw new RangeError(`Cannot read chunk bitmap: expected ${this.#bits.length} bytes`);
      }
      for (let i = 0; i < count; i++) {
        if ((bytes[i >> 3] & (1 << (i & 7))) !== 0) this.set(i);
      }
    }
  }

  /** Chunks held. */
  get held(): number {
    return this.#held;
  }

  /** True when every chunk is held. */
  get complete(): boolean {
    return this.#held === this.count;
  }

  has(index: number): boolean {
    return index >= 0 && index < this.count && (this.#bits[index >> 3] & (1 << (index & 7))) !== 0;
  }

  /** Marks a chunk held; returns false when it already was. */
  set(index: number): boolean {
    if (index < 0 || index >= this.count) throw new RangeError(`Chunk ${index} is out of range`);
    const mask = 1 << (index & 7);
    if ((this.#bits[index >> 3] & mask) !== 0) return false;
    this.#bits[index >> 3] |= mask;
    this.#held++;
    return true;
  }

  /** The first missing chunk at or after `from`, or -1. */
  nextMissing(from = 0): number {
    for (let i = Math.max(0, from); i < this.count; i++) {
      const byte = this.#bits[i >> 3];
      if (byte === 0xff && (i & 7) === 0 && i + 8 <= this.count) {
        i += 7;
        continue;
      }
      if ((byte & (1 << (i & 7))) === 0) return i;
    }
    return -1;
  }

  /** The first held chunk at or after `from`, or `count`. */
  nextHeld(from: number): number {
    for (let i = Math.max(0, from); i < this.count; i++) {
      if (this.#bits[i >> 3] === 0 && (i & 7) === 0) {
        i += 7;
        continue;
      }
      if (this.has(i)) return i;
    }
    return this.count;
  }

  /** Missing ranges [start, end), at most `max` of them. */
  missingRanges(max: number): { ranges: Array<[number, number]>; truncated: boolean } {
    const ranges: Array<[number, number]> = [];
    let i = this.nextMissing(0);
    while (i >= 0) {
      const end = Math.min(this.count, this.nextHeld(i + 1));
      if (ranges.length === max) return { ranges, truncated: true };
      ranges.push([i, end]);
      i = end < this.count ? this.nextMissing(end) : -1;
    }
    return { ranges, truncated: false };
  }

  /** The bitmap's bytes, for a checkpoint. */
  toBytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.#bits);
  }
}

/**
 * Reads a status answer, refusing anything malformed (it comes from the network).
 *
 * @returns the status, or null when the value is not one.
 */
export function readUploadStatus(value: unknown): UploadStatus | null {
  const v = value as Partial<UploadStatus> | null;
  if (typeof v !== "object" || v === null) return null;
  if (!isUploadId(v.uploadId) || !Number.isSafeInteger(v.computerId)) return null;
  if (!["receiving", "complete", "failed", "refused"].includes(v.state as string)) return null;
  const count = v.chunkCount;
  if (!Number.isSafeInteger(count) || count! < 1 || count! > MAX_CHUNK_COUNT) return null;
  if (!Number.isSafeInteger(v.received) || v.received! < 0 || v.received! > count!) return null;
  const stored = v.stored ?? null;
  if (stored !== null && (!Number.isSafeInteger(stored) || stored < 0 || stored > count!)) {
    return null;
  }
  if (!Array.isArray(v.missing) || v.missing.length > MAX_STATUS_RANGES) return null;
  const missing: Array<[number, number]> = [];
  let last = 0;
  for (const range of v.missing) {
    if (!Array.isArray(range) || range.length !== 2) return null;
    const [start, end] = range;
    if (
      !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < last || end <= start ||
      end > count!
    ) return null;
    missing.push([start, end]);
    last = end;
  }
  let error: UploadStatus["error"] = null;
  if (v.error !== null && v.error !== undefined) {
    const code = (v.error as { code?: unknown }).code;
    const message = (v.error as { message?: unknown }).message;
    if (typeof code !== "string" || typeof message !== "string") return null;
    error = { code: code.slice(0, 64), message: message.slice(0, 500) };
  }
  return {
    uploadId: v.uploadId,
    computerId: v.computerId!,
    state: v.state as UploadState,
    chunkCount: count!,
    received: v.received!,
    stored,
    missing,
    missingTruncated: v.missingTruncated === true,
    error,
  };
}

/**
 * Reads upload limits from an answer; anything malformed gives the protocol's own bounds.
 *
 * @example
 * ```ts
 * import { readUploadLimits } from "./upload.ts";
 * console.log(readUploadLimits({ maxChunkBytes: 65536, throttleKBPS: 100 }).maxChunkBytes); // 65536
 * ```
 */
export function readUploadLimits(value: unknown): UploadLimits {
  const v = (value ?? {}) as Partial<UploadLimits>;
  const max = Number.isSafeInteger(v.maxChunkBytes)
    ? Math.min(MAX_CHUNK_SIZE, Math.max(MIN_CHUNK_SIZE, v.maxChunkBytes!))
    : MAX_CHUNK_SIZE;
  const throttle = Number.isSafeInteger(v.throttleKBPS) && v.throttleKBPS! > 0
    ? v.throttleKBPS!
    : 0;
  return { maxChunkBytes: max, throttleKBPS: throttle };
}

/**
 * The stricter of two sets of limits: the smaller chunk, the lower non-zero throttle.
 *
 * @example
 * ```ts
 * import { stricterLimits } from "./upload.ts";
 * const limits = stricterLimits({ maxChunkBytes: 131072, throttleKBPS: 0 }, { maxChunkBytes: 65536, throttleKBPS: 50 });
 * console.log(limits); // { maxChunkBytes: 65536, throttleKBPS: 50 }
 * ```
 */
export function stricterLimits(a: UploadLimits, b: UploadLimits): UploadLimits {
  return {
    maxChunkBytes: Math.min(a.maxChunkBytes, b.maxChunkBytes),
    throttleKBPS: minThrottle(a.throttleKBPS, b.throttleKBPS),
  };
}

/** The lower of two throttles, where 0 means unlimited. */
export function minThrottle(a: number, b: number): number {
  if (a <= 0) return Math.max(0, b);
  if (b <= 0) return a;
  return Math.min(a, b);
}

/**
 * The chunk size and throttle a client uses: its own settings (deployed values, else the
 * defaults), made no larger than what upstream allows.
 *
 * @throws {RangeError} When a setting is not a number in range.
 */
export function clientUploadLimits(
  settings: Record<string, string | undefined>,
  upstream: UploadLimits,
): { chunkSize: number; throttleKBPS: number } {
  const chunkText = settings[CHUNK_SIZE_SETTING];
  const throttleText = settings[THROTTLE_SETTING];
  const chunkSize = chunkText === undefined ? DEFAULT_CHUNK_SIZE : Number(chunkText);
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE) {
    throw new RangeError(
      `Cannot use ${CHUNK_SIZE_SETTING} "${chunkText}": expected a whole number of bytes ≥ ${MIN_CHUNK_SIZE}`,
    );
  }
  const throttle = throttleText === undefined ? 0 : Number(throttleText);
  if (!Number.isSafeInteger(throttle) || throttle < 0) {
    throw new RangeError(
      `Cannot use ${THROTTLE_SETTING} "${throttleText}": expected a whole number of KiB/s (0 = unlimited)`,
    );
  }
  return {
    chunkSize: Math.max(
      MIN_CHUNK_SIZE,
      Math.min(chunkSize, upstream.maxChunkBytes, MAX_CHUNK_SIZE),
    ),
    throttleKBPS: minThrottle(throttle, upstream.throttleKBPS),
  };
}

const RESERVED_DEVICE = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;
// Control and format characters (bidi overrides, zero-width), line separators, path separators
// and the characters Windows forbids in names.
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\/:*?"<>|]/gu;

/**
 * Turns a declared file name into one that is safe as a single file name on every platform:
 * separators and unsafe characters become `_`, so `..`, absolute paths and drive letters can never
 * select a folder; leading and trailing dots and spaces go (no hidden files, no `.`/`..`, nothing
 * Windows would silently trim); reserved device names (CON, NUL, COM1, …) get a `_` in front; the
 * result is at most MAX_STORED_NAME_BYTES of UTF-8, keeping a short extension.
 *
 * @example
 * ```ts
 * import { sanitizeUploadName } from "./upload.ts";
 * console.log(sanitizeUploadName("../../etc/passwd")); // "_.._etc_passwd"
 * console.log(sanitizeUploadName("CON.txt")); // "_CON.txt"
 * ```
 */
export function sanitizeUploadName(declared: string): string {
  let name = String(declared).toWellFormed().normalize("NFC").replace(UNSAFE_CHARACTERS, "_");
  name = trimDotsAndSpaces(name) || "upload";
  // Cut first, then look at what is left: a cut can end on a space or dot, or bare a device name.
  // The first character is neither a dot nor a space, so the trimmed cut is never empty.
  name = trimDotsAndSpaces(truncateName(name, MAX_STORED_NAME_BYTES));
  if (RESERVED_DEVICE.test(name.split(".")[0].trimEnd())) {
    name = `_${trimDotsAndSpaces(truncateName(name, MAX_STORED_NAME_BYTES - 1))}`;
  }
  return name;
}

function trimDotsAndSpaces(name: string): string {
  return name.replace(/^[. ]+/, "").replace(/[. ]+$/, "");
}

/**
 * The `n`-th alternative of a stored name when the first is taken: `name (n).ext`.
 *
 * @example
 * ```ts
 * import { alternativeName } from "./upload.ts";
 * console.log(alternativeName("app.log", 2)); // "app (2).log"
 * ```
 */
export function alternativeName(name: string, n: number): string {
  const dot = name.lastIndexOf(".");
  const hasExtension = dot > 0 && name.length - dot <= 16;
  const stem = hasExtension ? name.slice(0, dot) : name;
  const extension = hasExtension ? name.slice(dot) : "";
  const suffix = ` (${n})${extension}`;
  const room = MAX_STORED_NAME_BYTES - new TextEncoder().encode(suffix).length;
  // The stem is cut as plain text (a dot in it is no extension), then looked at as
  // sanitizeUploadName looks at a name: a cut may end on a dot or space, or bare a device name.
  let cut = trimDotsAndSpaces(cutToBytes(stem, room)) || "upload";
  if (RESERVED_DEVICE.test(cut.split(".")[0].trimEnd())) {
    cut = `_${trimDotsAndSpaces(cutToBytes(cut, room - 1))}`;
  }
  return cut + suffix;
}

function truncateName(name: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(name).length <= maxBytes) return name;
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  const room = maxBytes - encoder.encode(extension).length;
  return cutToBytes(extension ? name.slice(0, dot) : name, room) + extension;
}

/** The longest start of `text`, in whole characters, of at most `maxBytes` UTF-8 bytes. */
function cutToBytes(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  let cut = "";
  let used = 0;
  for (const character of text) {
    const size = encoder.encode(character).length;
    if (used + size > maxBytes) break;
    cut += character;
    used += size;
  }
  return cut;
}

/**
 * Parses a byte size: a whole number with an optional binary suffix K, M, G or T (`10G`, `512M`).
 *
 * @throws {RangeError} For anything else.
 * @example
 * ```ts
 * import { parseByteSize } from "./upload.ts";
 * console.log(parseByteSize("2M")); // 2097152
 * ```
 */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d{1,16})\s*([KMGT]i?B?|B)?\s*$/i.exec(text);
  if (!match) {
    throw new RangeError(
      `Cannot read size "${text}": expected a whole number of bytes, optionally with K, M, G or T`,
    );
  }
  const power = { "": 0, B: 0, K: 1, M: 2, G: 3, T: 4 }[
    (match[2] ?? "").toUpperCase().charAt(0) as "" | "B" | "K" | "M" | "G" | "T"
  ];
  const value = Number(match[1]) * 1024 ** power;
  if (!Number.isSafeInteger(value)) throw new RangeError(`Cannot use size "${text}": too large`);
  return value;
}
