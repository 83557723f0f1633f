/**
 * An expected refusal of an upstream request: an HTTP status, a stable code and a message that
 * tells the sender what to do. Nothing else ever reaches the response.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { readRequestBody } from "../protocol/read_bounded.ts";
import type { WireErrorCode, WireErrorStatus } from "../protocol/wire_error_codes.ts";
import type { ComputerRecord } from "../store/store.ts";

/** The statuses a refusal is answered with. */
export type IngestErrorStatus = 400 | 403 | 404 | 409 | 413 | 415 | 429 | 503;

/**
 * A refusal with its HTTP status: the code is one of the wire catalogue, and the status one the
 * catalogue gives that code (a mismatch is a compile error).
 */
export class IngestError<C extends WireErrorCode = WireErrorCode> extends Error {
  readonly status: IngestErrorStatus;
  readonly code: C;
  /** Seconds the sender should wait before trying again, sent as `Retry-After` (429, 503). */
  readonly retryAfterSeconds: number | null;

  constructor(
    status: Extract<WireErrorStatus<C>, IngestErrorStatus>,
    code: C,
    message: string,
    retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = "IngestError";
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** The response headers of this refusal: `Retry-After` when it asks the sender to wait. */
  get headers(): Record<string, string> {
    return this.retryAfterSeconds === null
      ? {}
      : { "retry-after": String(Math.max(1, Math.ceil(this.retryAfterSeconds))) };
  }
}

/**
 * Reads a request's body within `maxBytes` (`readRequestBody`: a declared length over it refused
 * unread, a small body of a declared length in one call, any other counted while it is read),
 * refusing a larger one with 413 `ERR_TOO_LARGE`: `what` names the document ("report", "report
 * batch", …) and `whatToDo`, when given, what the sender can do instead.
 */
export async function readBodyWithin(
  request: Request,
  maxBytes: number,
  what: string,
  whatToDo?: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const body = await readRequestBody(request, maxBytes);
  if (body === null) {
    const advice = whatToDo ? `; ${whatToDo}` : "";
    throw new IngestError(
      413,
      "ERR_TOO_LARGE",
      `Cannot accept a ${what} over ${maxBytes} bytes${advice}`,
    );
  }
  return body;
}

/**
 * Parses a request body as JSON, refusing anything else with 400 `ERR_ENVELOPE_MALFORMED`
 * (`what` names the document: "report", "bundle", …).
 */
export function parseJsonBody(body: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decodeUtf8(body));
  } catch {
    throw new IngestError(400, "ERR_ENVELOPE_MALFORMED", `Cannot read ${what}: body is not JSON`);
  }
}

/**
 * Parses a request body as JSON and reads its shape and claims with `read` (the message's reader,
 * nothing verified yet): every refusal a clear `IngestError`, `what` naming the document in a
 * malformed body's refusal and `undecryptable` what could not be decrypted (as
 * {@linkcode ingestErrorFrom}).
 *
 * @example
 * ```ts ignore
 * const parsed = readJsonMessage(body, "report", readUpstreamMessage, "envelope");
 * ```
 */
export function readJsonMessage<T>(
  body: Uint8Array,
  what: string,
  read: (value: unknown) => T,
  undecryptable: string = what,
): T {
  const value = parseJsonBody(body, what);
  try {
    return read(value);
  } catch (error) {
    throw ingestErrorFrom(error, undecryptable);
  }
}

/**
 * Turns an envelope error into the refusal every ingest path gives: one opaque message for every
 * decryption failure (`what` names what could not be decrypted), 403 for a bad signature, 400 for
 * anything malformed. An `IngestError` passes through; anything else is rethrown.
 */
export function ingestErrorFrom(error: unknown, what: string): IngestError {
  if (error instanceof IngestError) return error;
  if (!(error instanceof MleError)) throw error;
  switch (error.code) {
    case "ERR_DECRYPTION_FAILED":
      return new IngestError(400, "ERR_DECRYPTION_FAILED", `Cannot decrypt ${what}`);
    case "ERR_SIGNATURE_INVALID":
      return new IngestError(403, "ERR_SIGNATURE_INVALID", error.message);
    default:
      return new IngestError(400, "ERR_ENVELOPE_MALFORMED", error.message);
  }
}

/**
 * Why a registered computer may no longer send anything (revoked, replaced by a key rotation's
 * hand-over, or removed as a duplicate), or null when it may. The one rule for reports, bundles and
 * uploads alike.
 *
 * A replaced computer's report numbered `seq` at most the hand-over's last sequence number was
 * made before the rotation by a key that was not compromised (a `--compromised` rotation makes no
 * hand-over), e.g. spooled at a relay: it is still accepted. Anything later, and anything without
 * a sequence number (an upload, a relay asking for a key), is refused.
 */
export function inactiveReason(
  record: ComputerRecord,
  seq?: number,
):
  | { code: "ERR_COMPUTER_REVOKED" | "ERR_COMPUTER_REPLACED" | "ERR_UNKNOWN_COMPUTER"; why: string }
  | null {
  if (record.revokedAt !== null) {
    return {
      code: "ERR_COMPUTER_REVOKED",
      why: `computer ${record.id} was revoked; rotate the client's keys to register anew`,
    };
  }
  const madeBeforeHandover = seq !== undefined && seq <= record.handoverLastSeq;
  if (record.replacedBy !== null && !madeBeforeHandover) {
    return {
      code: "ERR_COMPUTER_REPLACED",
      why:
        `computer ${record.id} was replaced by computer ${record.replacedBy} after a key rotation` +
        (seq === undefined
          ? ""
          : ` (only its reports up to ${record.handoverLastSeq} are accepted)`),
    };
  }
  if (record.removedAt !== null) {
    return {
      code: "ERR_UNKNOWN_COMPUTER",
      why: `computer ${record.id} was removed; register again`,
    };
  }
  return null;
}
