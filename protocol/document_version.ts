/**
 * Which of two site-signed documents of one kind (encryption certificates, revocation lists) is
 * the newer: the one rule every reader (clients, relays, the admin tool) applies, so that a
 * parent replaying an older document, validly signed, cannot roll anybody back.
 *
 * Documents carry a `serial` that the server's store allocates, one more than the last, in the
 * transaction that records the document: the order is the store's, not the clock of whichever
 * admin host signed. `issuedAt` stays in the body, to show and to order documents signed before
 * serials existed.
 *
 * The order:
 * - two documents with serials: the higher serial is newer (their `issuedAt` does not matter,
 *   so that an admin host whose clock once ran ahead cannot freeze every later document);
 * - a document without a serial (signed before serials) is older than any with one;
 * - two without serials: the later `issuedAt` is newer, as before serials.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";

/** What orders a document among the others of its kind. */
export interface DocumentVersion {
  /** Allocated by the server's store: 1, 2, 3… per kind; absent from older documents. */
  serial?: number;
  /** Milliseconds since the epoch, by the signing host's clock. */
  issuedAt: number;
}

/**
 * Compares two documents of one kind: negative when `a` is older than `b`, positive when newer,
 * 0 when neither supersedes the other (the same version).
 *
 * @example
 * ```ts
 * import { compareDocumentVersions } from "./document_version.ts";
 * const farFuture = Date.UTC(2040, 0, 1);
 * console.log(compareDocumentVersions({ serial: 2, issuedAt: 1 }, { serial: 1, issuedAt: farFuture }) > 0); // true
 * console.log(compareDocumentVersions({ issuedAt: farFuture }, { serial: 1, issuedAt: 1 }) < 0); // true
 * ```
 */
export function compareDocumentVersions(a: DocumentVersion, b: DocumentVersion): number {
  const serialA = a.serial ?? 0;
  const serialB = b.serial ?? 0;
  if (serialA !== serialB) return serialA - serialB;
  if (serialA !== 0) return 0;
  return a.issuedAt - b.issuedAt;
}

/**
 * Reads the optional serial of a verified document body: undefined when absent, else a positive
 * safe integer.
 *
 * @throws {RangeError} When the member is present but not a positive safe integer.
 */
export function readDocumentSerial(body: Record<string, unknown>): number | undefined {
  const serial = body.serial;
  if (serial === undefined) return undefined;
  if (typeof serial !== "number" || !Number.isSafeInteger(serial) || serial < 1) {
    throw new RangeError('member "serial" must be a positive integer');
  }
  return serial;
}

/**
 * Reads the optional serial of a verified document body, as its reader checks it: a bad one
 * makes the whole document invalid.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`, naming `documentName` ("revocation list").
 *
 * @example
 * ```ts
 * import { readSignedDocumentSerial } from "./document_version.ts";
 * console.log(readSignedDocumentSerial({ serial: 3 }, "revocation list")); // 3
 * ```
 */
export function readSignedDocumentSerial(
  body: Record<string, unknown>,
  documentName: string,
): number | undefined {
  try {
    return readDocumentSerial(body);
  } catch (error) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      `Cannot read ${documentName}: ${(error as Error).message}`,
    );
  }
}

/** Describes a version for people: `serial 7 (issued 2025-05-01T10:00:00.000Z)`. */
export function describeDocumentVersion(version: DocumentVersion): string {
  const issued = `issued ${issuedAtText(version.issuedAt)}`;
  return version.serial === undefined
    ? `no serial (${issued})`
    : `serial ${version.serial} (${issued})`;
}

/** An `issuedAt` as an ISO date, or as the number when no date can show it. */
export function issuedAtText(issuedAt: number): string {
  const date = new Date(issuedAt);
  return Number.isNaN(date.getTime()) ? String(issuedAt) : date.toISOString();
}
