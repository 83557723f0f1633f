/**
 * The encryption certificate: the site key's statement of which MLE public key clients must
 * encrypt to, or that encryption is off. Both are signed, so that a relay in the middle can
 * neither substitute a key nor strip the certificate to push `optional` clients into clear text.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { importEncryptionPublicKey, isKeyId, keyIdOfSpki } from "../envelope/encryption_key.ts";
import { MleError } from "../envelope/errors.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";
import {
  compareDocumentVersions,
  type DocumentVersion,
  readDocumentSerial,
  readSignedDocumentSerial,
} from "./document_version.ts";

export { compareDocumentVersions };

/**
 * A certificate's body. Which of two is newer: {@linkcode compareDocumentVersions} (the
 * store's `serial`; certificates signed before serials have none and are older than any with one).
 */
export type EncryptionCertificate =
  & DocumentVersion
  & (
    | { enabled: true; kid: string; spki: string; bits: number }
    | { enabled: false }
  );

/** Signs a certificate for the key `kid` (whose SPKI is given, base64url). */
export async function signEncryptionCertificate(
  sitePrivateKey: CryptoKey,
  certificate: EncryptionCertificate,
): Promise<SignedDocument> {
  try {
    readDocumentSerial({ serial: certificate.serial });
  } catch (error) {
    throw new RangeError(`Cannot sign encryption certificate: ${(error as Error).message}`);
  }
  return await signDocument(sitePrivateKey, "mle-encryption-certificate", { ...certificate });
}

/**
 * Verifies a certificate and, when enabled, imports its public key after checking that the key id
 * is the SHA-1 of the SPKI it carries.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID` or `ERR_KEY_INVALID`.
 */
export async function verifyEncryptionCertificate(
  siteKey: CryptoKey,
  document: unknown,
): Promise<{ certificate: EncryptionCertificate; publicKey: CryptoKey | null }> {
  const body = await verifyDocument(siteKey, "mle-encryption-certificate", document);
  const serial = readSignedDocumentSerial(body, "encryption certificate");
  const version = serial === undefined ? {} : { serial };
  if (body.enabled === false && typeof body.issuedAt === "number") {
    return {
      certificate: { enabled: false, ...version, issuedAt: body.issuedAt },
      publicKey: null,
    };
  }
  if (
    body.enabled !== true || !isKeyId(body.kid) || typeof body.spki !== "string" ||
    typeof body.issuedAt !== "number" || typeof body.bits !== "number"
  ) {
    throw new MleError("ERR_DOCUMENT_INVALID", "Cannot read encryption certificate: bad fields");
  }
  let spki: Uint8Array<ArrayBuffer>;
  try {
    spki = decodeBase64Url(body.spki);
  } catch (cause) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      "Cannot read encryption certificate: spki is not base64url",
      { cause },
    );
  }
  if ((await keyIdOfSpki(spki)) !== body.kid) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      "Cannot trust encryption certificate: its key id does not match its key",
    );
  }
  const publicKey = await importEncryptionPublicKey(spki);
  return {
    certificate: {
      enabled: true,
      kid: body.kid,
      spki: body.spki,
      bits: body.bits,
      ...version,
      issuedAt: body.issuedAt,
    },
    publicKey,
  };
}
