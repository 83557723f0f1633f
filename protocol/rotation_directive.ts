/**
 * The rotation directive: the site key's signed request that named computers rotate their keys
 * (`mle-admin computers rotate-keys`), carried out by each named client at its next cycle as
 * `mle-client rotate-keys` would.
 *
 * There is one current directive, a numbered document (`protocol/document_version.ts`): each
 * `rotate-keys` signs a new one with the store's next serial, holding every request still
 * outstanding plus the new ones. A request names one computer id and the serial of the directive
 * that asked (`requestedIn`), so a client tells a request it carried out (never again) from a new
 * request for the same id. Clients ignore a directive older than one they have seen, so a parent
 * replaying an older, validly signed directive cannot bring back a request it no longer holds.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";
import { type DocumentVersion, readSignedDocumentSerial } from "./document_version.ts";

/** Most requests one directive holds (keeps it well under `MAX_DOCUMENT_BYTES`). */
export const MAX_ROTATION_REQUESTS = 20_000;

/** One computer's requested rotation. */
export interface RotationRequest {
  computerId: number;
  /** Serial of the directive that asked: with the id, what a client carries out once. */
  requestedIn: number;
  /** When it was asked, milliseconds since the epoch (the signing host's clock). */
  requestedAt: number;
  /** Trust no hand-over: the new entry claims the old id and waits for `computers confirm`. */
  compromised: boolean;
}

/** The directive's body. */
export interface RotationDirective extends DocumentVersion {
  /** Allocated by the server's store; every directive has one. */
  serial: number;
  issuedAt: number;
  /** At most one request per computer id. */
  requests: RotationRequest[];
}

/**
 * Signs a directive.
 *
 * @throws {RangeError} When a field is out of range or a computer is named twice.
 */
export async function signRotationDirective(
  sitePrivateKey: CryptoKey,
  directive: RotationDirective,
): Promise<SignedDocument> {
  const problem = problemOf(directive);
  if (problem) throw new RangeError(`Cannot sign rotation directive: ${problem}`);
  return await signDocument(sitePrivateKey, "mle-rotation-directive", {
    serial: directive.serial,
    issuedAt: directive.issuedAt,
    requests: directive.requests.map((r) => ({
      computerId: r.computerId,
      requestedIn: r.requestedIn,
      requestedAt: r.requestedAt,
      compromised: r.compromised,
    })),
  });
}

/**
 * Verifies a directive against the site key and checks every field.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`.
 */
export async function verifyRotationDirective(
  siteKey: CryptoKey,
  document: unknown,
): Promise<RotationDirective> {
  const body = await verifyDocument(siteKey, "mle-rotation-directive", document);
  return readRotationDirective(body);
}

/**
 * Reads a directive's body (already verified, or this admin tool's own store) and checks it.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`.
 */
export function readRotationDirective(body: Record<string, unknown>): RotationDirective {
  const serial = readSignedDocumentSerial(body, "rotation directive");
  const directive = {
    serial,
    issuedAt: body.issuedAt,
    requests: body.requests,
  } as RotationDirective;
  const problem = problemOf(directive);
  if (problem) {
    throw new MleError("ERR_DOCUMENT_INVALID", `Cannot read rotation directive: ${problem}`);
  }
  return directive;
}

/** The request naming `computerId`, or null when the directive does not name it. */
export function requestFor(
  directive: RotationDirective,
  computerId: number,
): RotationRequest | null {
  return directive.requests.find((r) => r.computerId === computerId) ?? null;
}

function problemOf(directive: RotationDirective): string | null {
  const { serial, issuedAt, requests } = directive;
  if (!isPositiveInteger(serial)) return 'member "serial" must be a positive integer';
  if (typeof issuedAt !== "number" || !Number.isFinite(issuedAt)) {
    return 'member "issuedAt" must be a number';
  }
  if (!Array.isArray(requests)) return 'member "requests" must be an array';
  if (requests.length > MAX_ROTATION_REQUESTS) {
    return `more than ${MAX_ROTATION_REQUESTS} requests`;
  }
  const seen = new Set<number>();
  for (const request of requests as unknown[]) {
    const r = request as Partial<RotationRequest> | null;
    if (
      typeof r !== "object" || r === null || !isPositiveInteger(r.computerId) ||
      !isPositiveInteger(r.requestedIn) || r.requestedIn > serial ||
      typeof r.requestedAt !== "number" || !Number.isFinite(r.requestedAt) ||
      typeof r.compromised !== "boolean"
    ) {
      return "a request is not {computerId, requestedIn ≤ serial, requestedAt, compromised}";
    }
    if (seen.has(r.computerId)) return `computer ${r.computerId} is named twice`;
    seen.add(r.computerId);
  }
  return null;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}
