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

/** A certificate's body. */
export type EncryptionCertificate =
  | { enabled: true; kid: string; spki: string; bits: number; issuedAt: number }
  | { enabled: false; issuedAt: number };

/** Signs a certificate for the key `kid` (whose SPKI is given, base64url). */
export async function signEncryptionCertificate(
  sitePrivateKey: CryptoKey,
  certificate: EncryptionCertificate,
): Promise<SignedDocument> {
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
  if (body.enabled === false && typeof body.issuedAt === "number") {
    return { certificate: { enabled: false, issuedAt: body.issuedAt }, publicKey: null };
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
  return { certificate: body as EncryptionCertificate, publicKey };
}
