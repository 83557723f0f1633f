/**
 * The senders' public keys a relay already knows, without asking anyone: an authenticating relay
 * knows the keys of the clients it admitted (`relay/authorized_clients.ts`), a decrypting relay
 * those its parent told it lately (`relay/client_public_keys.ts`). A report or upload manifest
 * whose signature does not verify with its sender's known key is a forgery, refused before it
 * is stored; one from a sender whose key is not known is checked upstream.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { type ParsedMessage, verifyMessageSignature } from "../envelope/report_message.ts";
import {
  type ParsedUploadManifest,
  verifyUploadManifestSignature,
} from "../envelope/upload_manifest.ts";
import { type ErrorBody, errorBody } from "../protocol/http_error.ts";

/** Where a relay looks up a sender's public key. */
export interface KnownSenderKeys {
  /** The computer's public key when this relay knows it, else null. Never asks the parent. */
  knownKey(computerId: number): CryptoKey | null | Promise<CryptoKey | null>;
}

/** What a forgery is answered. */
export interface ForgeryRefusal {
  status: 403;
  body: ErrorBody;
}

/**
 * Checks a report or upload manifest against its sender's known key.
 *
 * @returns the 403 to answer a forgery, or null (signed by the known key, or the key unknown).
 * @example
 * ```ts ignore
 * const refusal = await refuseForgery(senderKeys, parsed, "report");
 * if (refusal) return c.json(refusal.body, refusal.status);
 * ```
 */
export async function refuseForgery(
  keys: KnownSenderKeys | undefined,
  parsed:
    | { what: "report"; message: ParsedMessage }
    | { what: "upload manifest"; message: ParsedUploadManifest },
): Promise<ForgeryRefusal | null> {
  const computerId = parsed.message.claims.cid;
  const key = await keys?.knownKey(computerId);
  if (!key) return null;
  try {
    if (parsed.what === "report") await verifyMessageSignature(key, parsed.message);
    else await verifyUploadManifestSignature(key, parsed.message);
    return null;
  } catch (error) {
    if (!(error instanceof MleError)) throw error;
  }
  return {
    status: 403,
    body: errorBody(
      "ERR_SIGNATURE_INVALID",
      `Cannot accept ${parsed.what}: it is not signed with the key computer ${computerId} ` +
        "registered; a client signs with its own key (register again if it made a new one)",
    ),
  };
}
