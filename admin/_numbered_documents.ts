/**
 * How the admin tool signs a numbered document (an encryption certificate, a revocation list):
 * with the serial the server's store allocates for it (`Store.recordDocument`), after checking,
 * by the rule every reader applies (`protocol/document_version.ts`), that it supersedes the
 * document the server serves now. It refuses one that would not (readers would ignore it), and
 * warns when the previous one says it was issued later than this host's clock: readers that
 * predate serials order by that date and keep the previous one until then.
 *
 * @module
 */

import { CliError, printWarning } from "../cli/output.ts";
import { readUnverifiedBody, type SignedDocument } from "../envelope/signed_document.ts";
import {
  compareDocumentVersions,
  describeDocumentVersion,
  type DocumentVersion,
  issuedAtText,
  readDocumentSerial,
} from "../protocol/document_version.ts";
import type { RecordedDocument, SignNumberedDocument } from "../store/mod.ts";
import { TOOL } from "./_args.ts";

/** What the document is, in messages: "revocation list", "encryption certificate". */
export type NumberedDocumentKind =
  | "revocation list"
  | "encryption certificate"
  | "rotation directive";

/**
 * Signs a document with the serial the store allocates and records it through `record` (which
 * passes the signer to a `Store` method); returns what was recorded.
 *
 * @throws {CliError} When the document would not supersede the one the server serves: nothing
 * is recorded then.
 */
export async function recordSupersedingDocument(
  kind: NumberedDocumentKind,
  issuedAt: number,
  sign: (
    version: { serial: number; issuedAt: number },
    /** The document it replaces (JSON text from the store), for kinds that carry its content on. */
    previous: string | null,
  ) => Promise<SignedDocument>,
  record: (signer: SignNumberedDocument) => Promise<RecordedDocument>,
): Promise<RecordedDocument> {
  let previous: DocumentVersion | null = null;
  const recorded = await record(async (serial, previousText) => {
    const next = { serial, issuedAt };
    previous = previousText === null ? null : storedVersion(previousText);
    if (previous !== null && compareDocumentVersions(next, previous) <= 0) {
      throw new CliError(
        `Cannot publish the ${kind}: it would not supersede the one the server serves ` +
          `(that one has ${describeDocumentVersion(previous)}, this one ${
            describeDocumentVersion(next)
          }), so clients and relays would ignore it`,
        {
          hint: "the data dir's database numbers documents below the one it serves: was the " +
            "document copied in by hand, or the database replaced? Restore both together",
        },
      );
    }
    return JSON.stringify(await sign(next, previousText));
  });
  const held = previous as DocumentVersion | null;
  if (held !== null && issuedAt < held.issuedAt) {
    printWarning(
      TOOL,
      `the previous ${kind} says it was issued at ${
        issuedAtText(held.issuedAt)
      }, later than this ` +
        `host's clock (${issuedAtText(issuedAt)}): clients and relays that order by serial take ` +
        `this one (serial ${recorded.serial}), but those that predate serials keep the previous ` +
        "one until that date; check the clock of the host that signed it",
    );
  }
  return recorded;
}

/**
 * The version of a document from this data dir's own store. Read without verifying: the store is
 * this tool's own record of what it signed, and the version only decides whether to warn or
 * refuse, never what to trust. Null when it cannot be read.
 */
function storedVersion(text: string): DocumentVersion | null {
  try {
    const body = readUnverifiedBody(text);
    if (typeof body?.issuedAt !== "number") return null;
    const serial = readDocumentSerial(body);
    return serial === undefined ? { issuedAt: body.issuedAt } : { serial, issuedAt: body.issuedAt };
  } catch {
    return null;
  }
}
