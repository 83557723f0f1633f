/**
 * Documents signed by the site key: the masthead, encryption certificates, settings,
 * revocation lists and rotation directives. Downstream content is signed, not encrypted (seed 000).
 *
 * @module
 */

import { decodeBase64Url } from "./base64url.ts";
import { type FlattenedJws, signJsonJws, verifyJws } from "./jws.ts";
import { MleError } from "./errors.ts";
import { decodeUtf8 } from "./utf8.ts";

/** The kinds of site-signed document; each is its own JWS `typ`. */
export type DocumentType =
  | "mle-masthead"
  | "mle-encryption-certificate"
  | "mle-settings"
  | "mle-revocations"
  | "mle-rotation-directive"
  | "mle-computer-decision";

/** A site-signed document as it travels and is stored. */
export type SignedDocument = FlattenedJws;

/**
 * Signs a JSON body as a document of the given type.
 *
 * @example
 * ```ts
 * import { signDocument, verifyDocument } from "./signed_document.ts";
 * import { generateSigningKeyPair } from "./signature.ts";
 * const site = await generateSigningKeyPair();
 * const doc = await signDocument(site.privateKey, "mle-settings", { serial: 1 });
 * console.log(await verifyDocument(site.publicKey, "mle-settings", doc)); // { serial: 1 }
 * ```
 */
export async function signDocument(
  sitePrivateKey: CryptoKey,
  type: DocumentType,
  body: Record<string, unknown>,
): Promise<SignedDocument> {
  return await signJsonJws(sitePrivateKey, type, body);
}

/**
 * Verifies a site-signed document of the given type and returns its JSON body.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID` when the document is malformed, of another type or not
 * signed by this site key.
 */
export async function verifyDocument(
  sitePublicKey: CryptoKey,
  type: DocumentType,
  document: unknown,
): Promise<Record<string, unknown>> {
  let payload: Uint8Array<ArrayBuffer>;
  try {
    ({ payload } = await verifyJws(sitePublicKey, document, type));
  } catch (cause) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      `Cannot trust ${type}: it is not signed by this site's key`,
      { cause },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(decodeUtf8(payload));
  } catch (cause) {
    throw new MleError("ERR_DOCUMENT_INVALID", `Cannot read ${type}: body is not JSON`, { cause });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new MleError("ERR_DOCUMENT_INVALID", `Cannot read ${type}: body is not a JSON object`);
  }
  return body as Record<string, unknown>;
}

/**
 * The JSON body of a signed document given as JSON text, read WITHOUT verifying the signature, or
 * null when it is not one. Only for a holder's own record of what it signed or stores (the
 * server's and admin tool's store), to route or show it, never to decide what to trust: readers
 * use {@linkcode verifyDocument}.
 *
 * @example
 * ```ts
 * import { readUnverifiedBody, signDocument } from "./signed_document.ts";
 * import { generateSigningKeyPair } from "./signature.ts";
 * const site = await generateSigningKeyPair();
 * const doc = await signDocument(site.privateKey, "mle-settings", { serial: 1 });
 * console.log(readUnverifiedBody(JSON.stringify(doc))); // { serial: 1 }
 * ```
 */
export function readUnverifiedBody(text: string): Record<string, unknown> | null {
  try {
    const { payload } = JSON.parse(text) as { payload: string };
    const body = JSON.parse(decodeUtf8(decodeBase64Url(payload)));
    return typeof body === "object" && body !== null && !Array.isArray(body) ? body : null;
  } catch {
    return null;
  }
}
