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
 * This file holds the wire's constants, shapes and checks of claims, manifests and chunk paths;
 * beside it, one concept each: `chunk_bitmap.ts` (which chunks a role holds),
 * `upload_status.ts` (reading a status from the network) and `upload_name.ts` (the name a file
 * is stored under).
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
