/**
 * The report bundle: what a decrypting top-level relay sends the server instead of many client
 * envelopes. The relay decrypts each client's envelope, keeps the client's own inner signed report
 * (the JWS naming computer id, sequence number and key id), packs many of them into one document,
 * encrypts that document to the server's current key as one JWE, and signs the JWE once with its
 * own identity key.
 *
 * Why the server can still trust every report: the client's inner signature travels unchanged, so
 * the server verifies each report with that client's public key and its claims, exactly as if the
 * client had sent it. A relay can drop a report (the client's own queue is gone, so a relay is
 * trusted not to), but it cannot forge, alter or re-attribute one; a replayed report is stored once
 * because the server keys reports by (computer id, sequence number).
 *
 * Layout of the bundle plaintext (before encryption):
 *
 * ```
 * "MLE-BUNDLE/1\n"
 * then n times: uint32 big-endian length L, then L bytes of one gzip member whose content is
 *   <protected>.<signature>\n<payload bytes>
 * ```
 *
 * where `protected` and `signature` are the client's JWS members (base64url) and the payload is the
 * report's bytes as the client signed them (the JWS payload decoded; base64url has exactly one text
 * form per byte string here, so the server re-encodes it to the signed text).
 *
 * Each report is compressed on its own, not the bundle as a whole: one compression context per
 * client means a client that controls part of its own report cannot learn anything about another
 * client's report from the bundle's size (the CRIME/BREACH family of attacks). Decompression is
 * bounded on the way in: every member is fed to the decompressor in 1 KiB slices and the output is
 * counted, so a "zip bomb" costs at most {@linkcode MAX_BUNDLE_ENTRY_BYTES} plus about 1 MiB
 * (deflate expands 1 KiB to at most ~1 MiB) before it is refused.
 *
 * The JWE's protected header names the relay (`cid`), the bundle id (`bid`) and the number of
 * reports (`n`); AES-GCM authenticates them with the content. `cty` is `mle-bundle+gzip`. No `zip`
 * header: compression happens inside the plaintext, so the JWE stays one any JOSE library opens.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import { concatBytes } from "../envelope/concat_bytes.ts";
import { MleError } from "../envelope/errors.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import { integerUpTo, POSITIVE_INTEGER, textMatching } from "../envelope/claim_rules.ts";
import {
  type ParsedSealedMessage,
  type SealedMessage,
  sealedMessageCodec,
  sealedMessageKind,
} from "../envelope/sealed_message.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { MAX_REPORT_MESSAGE_BYTES } from "./limits.ts";
import { readBounded } from "./read_bounded.ts";

/** JWE `cty` of a report bundle. */
export const BUNDLE_CONTENT_TYPE = "mle-bundle+gzip";
/** Most reports one bundle may carry. */
export const MAX_BUNDLE_REPORTS = 1000;
/** Largest bundle message accepted on the wire, in bytes (the JWE, base64url included). */
export const MAX_BUNDLE_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest plaintext of a bundle (compressed members and their framing), in bytes. */
export const MAX_BUNDLE_PLAINTEXT_BYTES = 12 * 1024 * 1024;
/** Largest decompressed report inside a bundle, in bytes: what one report message may be. */
export const MAX_BUNDLE_ENTRY_BYTES = MAX_REPORT_MESSAGE_BYTES;
/** Largest sum of the decompressed reports of one bundle, in bytes. */
export const MAX_BUNDLE_EXPANDED_BYTES = 64 * 1024 * 1024;

const MAGIC = new TextEncoder().encode("MLE-BUNDLE/1\n");
const SLICE_BYTES = 1024;
const BUNDLE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const encoder = new TextEncoder();

/** One client's signed report, with its payload as bytes. */
export interface BundleEntry {
  /** The client's JWS protected header, base64url, as signed. */
  protected: string;
  /** The report bytes the client signed. */
  payload: Uint8Array<ArrayBuffer>;
  /** The client's signature, base64url. */
  signature: string;
}

/** What a bundle's protected header says. */
export interface BundleClaims {
  /** The relay's computer id: whose key signed the bundle. */
  cid: number;
  /** A random id (UUID), for logs and the answer. */
  bid: string;
  /** Number of reports inside. */
  n: number;
}

/** A bundle as it travels: a flattened JWE plus the relay's signature over its compact form. */
export type BundleMessage = SealedMessage;

/** A bundle message read from the wire, before any verification. */
export type ParsedBundle = ParsedSealedMessage<BundleClaims>;

/** The bundle's claims and words for the sealed-message codec (the JWE carries no inner JWS). */
export const BUNDLE_MESSAGE = sealedMessageKind<BundleClaims>({
  name: "bundle",
  contentType: BUNDLE_CONTENT_TYPE,
  signatureInvalid: "Cannot accept bundle: relay signature is not valid",
  claims: {
    cid: POSITIVE_INTEGER,
    bid: textMatching(BUNDLE_ID_PATTERN, "a lowercase UUID"),
    n: integerUpTo(MAX_BUNDLE_REPORTS),
  },
});

/** Turns a client's flattened JWS into a bundle entry. */
export function entryOfJws(jws: FlattenedJws): BundleEntry {
  return {
    protected: jws.protected,
    payload: decodeBase64Url(jws.payload),
    signature: jws.signature,
  };
}

/** Turns a bundle entry back into the client's flattened JWS, byte for byte as signed. */
export function jwsOfEntry(entry: BundleEntry): FlattenedJws {
  return {
    protected: entry.protected,
    payload: encodeBase64Url(entry.payload),
    signature: entry.signature,
  };
}

/**
 * Packs signed reports into a bundle plaintext, each compressed on its own.
 *
 * @throws {RangeError} When there are no entries, too many, or the result is too large.
 * @example
 * ```ts
 * import { decodeBundle, encodeBundle } from "./report_bundle.ts";
 * const entry = { protected: "eyJ0eXAiOiJ4In0", payload: new Uint8Array([123, 125]), signature: "c2ln" };
 * const entries = await decodeBundle(await encodeBundle([entry]));
 * console.log(entries.length); // 1
 * ```
 */
export async function encodeBundle(
  entries: readonly BundleEntry[],
): Promise<Uint8Array<ArrayBuffer>> {
  if (entries.length === 0 || entries.length > MAX_BUNDLE_REPORTS) {
    throw new RangeError(
      `Cannot bundle ${entries.length} reports: expected 1 to ${MAX_BUNDLE_REPORTS}`,
    );
  }
  const parts: Uint8Array[] = [MAGIC];
  let size = MAGIC.length;
  for (const entry of entries) {
    const head = encoder.encode(`${entry.protected}.${entry.signature}\n`);
    const member = await gzip(concatBytes([head, entry.payload]));
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, member.length);
    parts.push(length, member);
    size += 4 + member.length;
  }
  if (size > MAX_BUNDLE_PLAINTEXT_BYTES) {
    throw new RangeError(
      `Cannot bundle: ${size} bytes is over the ${MAX_BUNDLE_PLAINTEXT_BYTES}-byte bound`,
    );
  }
  return concatBytes(parts);
}

/**
 * Unpacks a bundle plaintext, bounded: at most `expected` (or {@linkcode MAX_BUNDLE_REPORTS})
 * entries, each decompressing to at most {@linkcode MAX_BUNDLE_ENTRY_BYTES}, all together to at
 * most {@linkcode MAX_BUNDLE_EXPANDED_BYTES}.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` for a bad layout, a corrupt or oversized member, or
 * a count other than `expected`.
 */
export async function decodeBundle(
  plaintext: Uint8Array,
  expected?: number,
): Promise<BundleEntry[]> {
  const malformed = (why: string) =>
    new MleError("ERR_ENVELOPE_MALFORMED", `Cannot read bundle: ${why}`);
  if (plaintext.length > MAX_BUNDLE_PLAINTEXT_BYTES) throw malformed("it is too large");
  if (
    plaintext.length < MAGIC.length || !MAGIC.every((byte, index) => plaintext[index] === byte)
  ) {
    throw malformed('expected it to begin with "MLE-BUNDLE/1"');
  }
  const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const limit = expected ?? MAX_BUNDLE_REPORTS;
  const entries: BundleEntry[] = [];
  let offset = MAGIC.length;
  let expanded = 0;
  while (offset < plaintext.length) {
    if (entries.length >= limit) throw malformed(`it holds more than ${limit} reports`);
    if (offset + 4 > plaintext.length) throw malformed("a member's length is cut off");
    const length = view.getUint32(offset);
    offset += 4;
    if (length === 0 || offset + length > plaintext.length) {
      throw malformed("a member's length runs past the end");
    }
    const budget = Math.min(MAX_BUNDLE_ENTRY_BYTES, MAX_BUNDLE_EXPANDED_BYTES - expanded);
    const plain = await gunzipBounded(plaintext.subarray(offset, offset + length), budget);
    if (plain === null) throw malformed(`report #${entries.length + 1} is corrupt or too large`);
    expanded += plain.length;
    offset += length;
    const newline = plain.indexOf(0x0a);
    if (newline < 0) throw malformed(`report #${entries.length + 1} has no header line`);
    let head: string;
    try {
      head = decodeUtf8(plain.subarray(0, newline));
    } catch {
      throw malformed(`report #${entries.length + 1} has a header line that is not UTF-8`);
    }
    const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(head);
    if (!match) throw malformed(`report #${entries.length + 1} has a bad header line`);
    entries.push({ protected: match[1], signature: match[2], payload: plain.slice(newline + 1) });
  }
  if (expected !== undefined && entries.length !== expected) {
    throw malformed(`its header says ${expected} reports, it holds ${entries.length}`);
  }
  if (entries.length === 0) throw malformed("it holds no reports");
  return entries;
}

const bundles = sealedMessageCodec(BUNDLE_MESSAGE);

/**
 * Encrypts a bundle plaintext to the server key the content key is wrapped to, and signs the
 * result with the relay's identity key.
 */
export const sealBundle = bundles.seal;

/**
 * Reads a bundle message's shape and claims without verifying anything yet.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED`, or `ERR_DECRYPTION_FAILED` for header problems
 * (deliberately opaque, as for reports).
 */
export const readBundleMessage = bundles.read;

/**
 * Verifies the relay's signature over the bundle as it travelled.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID`.
 */
export const verifyBundleSignature = bundles.verify;

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Decompresses one gzip member, or returns null when it is corrupt, has trailing bytes, or would
 * expand beyond `maxBytes`. The input is fed in small slices, pulled only as output is read, so
 * the decompressor never runs far ahead of the bound.
 */
async function gunzipBounded(
  member: Uint8Array,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  let offset = 0;
  const source = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (offset >= member.length) {
        controller.close();
        return;
      }
      controller.enqueue(member.slice(offset, offset + SLICE_BYTES));
      offset += SLICE_BYTES;
    },
  }, { highWaterMark: 0 });
  try {
    return await readBounded(source.pipeThrough(new DecompressionStream("gzip")), maxBytes);
  } catch {
    return null; // not gzip, or truncated
  }
}
