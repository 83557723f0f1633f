/**
 * A decrypting relay's report of itself to its server: its name, where its clients reach it and
 * the MLE key ids whose private keys it holds (`POST /api/v1/relays/record/<digest>`), so that
 * `mle-admin encryption status` shows which relays hold which key and `deploy` refuses a key a
 * live one lacks. Pure: no files, no HTTP.
 *
 * The request is a relay's signed request (`protocol/relay_request.ts`): the signature covers the
 * method and the path, and the path ends with the base64url SHA-256 of the body, so the body is
 * bound to the signature without a second signing scheme. The server checks the body's size and
 * digest before any lookup.
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { API } from "./paths.ts";

/** Most bytes of a record's body. */
export const RELAY_RECORD_MAX_BYTES = 4 * 1024;
/** Most key ids one record names. */
export const RELAY_RECORD_MAX_KIDS = 32;

/** What a relay says of itself. */
export interface RelayRecordClaim {
  /** Its host name and port: 1 to 200 printable ASCII characters. */
  name: string;
  /** Where its clients reach it: http(s)://…, at most 500 characters. */
  url: string;
  /** Key ids (40 lowercase hex digits) whose private key it holds, sorted, each once. */
  kids: string[];
}

const NAME = /^[\x20-\x7e]{1,200}$/;
const URL_TEXT = /^https?:\/\/[\x21-\x7e]{1,492}$/;
const KID = /^[0-9a-f]{40}$/;
const DIGEST = /^[A-Za-z0-9_-]{43}$/;
const encoder = new TextEncoder();

/** The base64url SHA-256 of a record's body: the last segment of its path. */
export async function relayRecordDigest(body: Uint8Array<ArrayBuffer>): Promise<string> {
  return encodeBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
}

/** True when `segment` has the shape of a digest (43 base64url characters). */
export function isRelayRecordDigest(segment: string): boolean {
  return DIGEST.test(segment);
}

/**
 * Encodes a record: its body and the path (ending with the body's digest) the relay signs.
 *
 * @throws {RangeError} When the claim is out of bounds (see {@linkcode readRelayRecord}).
 * @example
 * ```ts
 * import { encodeRelayRecord, readRelayRecord } from "./relay_record.ts";
 * const kid = "0".repeat(40);
 * const { path, body } = await encodeRelayRecord({ name: "r:1", url: "http://r:1", kids: [kid] });
 * console.log(path.startsWith("/api/v1/relays/record/"), readRelayRecord(body)?.kids.length); // true 1
 * ```
 */
export async function encodeRelayRecord(
  claim: RelayRecordClaim,
): Promise<{ path: string; body: Uint8Array<ArrayBuffer> }> {
  const normalized = { name: claim.name, url: claim.url, kids: [...new Set(claim.kids)].sort() };
  const body = encoder.encode(JSON.stringify(normalized));
  if (readRelayRecord(body) === null) {
    throw new RangeError(
      `Cannot encode the relay's record: expected a name of 1 to 200 printable characters, an ` +
        `http(s) URL and at most ${RELAY_RECORD_MAX_KIDS} key ids, within ` +
        `${RELAY_RECORD_MAX_BYTES} bytes`,
    );
  }
  return { path: `${API.relayRecord}/${await relayRecordDigest(body)}`, body };
}

/**
 * Reads a record's body strictly: UTF-8 JSON object, at most {@linkcode RELAY_RECORD_MAX_BYTES},
 * a bounded name and URL, at most {@linkcode RELAY_RECORD_MAX_KIDS} distinct key ids (returned
 * sorted). Other fields are ignored. Null for anything else.
 */
export function readRelayRecord(body: Uint8Array): RelayRecordClaim | null {
  if (body.length > RELAY_RECORD_MAX_BYTES) return null;
  let value: unknown;
  try {
    value = JSON.parse(decodeUtf8(body));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { name, url, kids } = value as Record<string, unknown>;
  if (typeof name !== "string" || !NAME.test(name)) return null;
  if (typeof url !== "string" || !URL_TEXT.test(url)) return null;
  if (!Array.isArray(kids) || kids.length > RELAY_RECORD_MAX_KIDS) return null;
  if (!kids.every((kid) => typeof kid === "string" && KID.test(kid))) return null;
  const distinct = [...new Set(kids as string[])].sort();
  if (distinct.length !== kids.length) return null;
  return { name, url, kids: distinct };
}
