/**
 * The masthead: the site's public identity, installed with every client as its trust anchor.
 * It is self-signed by the site key; trust comes from installing it, and afterwards only a
 * masthead signed by the same site key may replace it.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import { readJwsHeader } from "../envelope/jws.ts";
import { importSigningPublicKey } from "../envelope/signature.ts";
import { signDocument, type SignedDocument, verifyDocument } from "../envelope/signed_document.ts";
import { DEFAULT_PORT } from "./paths.ts";

/** What a masthead says. */
export interface Masthead {
  /** Format version. */
  version: 1;
  /** A name for the site. */
  siteName: string;
  /** Raw Ed25519 site public key, base64url. */
  sitePublicKey: string;
  /** The server URL(s) clients may report to when given no parent. */
  serverUrls: string[];
  /** The default port. */
  port: number;
  createdAt: string;
}

/**
 * Signs a masthead with the site key.
 *
 * @example
 * ```ts ignore
 * const doc = await createMasthead(site.privateKey, site.publicKeyText, { siteName: "demo", serverUrls: ["http://127.0.0.1:52311"] });
 * ```
 */
export async function createMasthead(
  sitePrivateKey: CryptoKey,
  sitePublicKey: string,
  options: { siteName: string; serverUrls: string[]; port?: number },
): Promise<SignedDocument> {
  for (const url of options.serverUrls) parseServerUrl(url);
  const masthead: Masthead = {
    version: 1,
    siteName: options.siteName,
    sitePublicKey,
    serverUrls: options.serverUrls,
    port: options.port ?? DEFAULT_PORT,
    createdAt: new Date().toISOString(),
  };
  return await signDocument(sitePrivateKey, "mle-masthead", { ...masthead });
}

/**
 * Verifies a masthead against the site key it carries, and, when `pinnedSiteKey` is given, that it
 * is the same site key as the one installed before.
 *
 * @throws {MleError} `ERR_DOCUMENT_INVALID`.
 */
export async function verifyMasthead(
  document: unknown,
  pinnedSiteKey?: string,
): Promise<{ masthead: Masthead; siteKey: CryptoKey }> {
  let claimed: unknown;
  try {
    const { jws } = readJwsHeader(document);
    claimed = JSON.parse(new TextDecoder().decode(decodeBase64Url(jws.payload)))?.sitePublicKey;
  } catch (cause) {
    throw new MleError("ERR_DOCUMENT_INVALID", "Cannot read masthead: not a signed masthead", {
      cause,
    });
  }
  if (typeof claimed !== "string") {
    throw new MleError("ERR_DOCUMENT_INVALID", "Cannot read masthead: no site public key");
  }
  if (pinnedSiteKey !== undefined && claimed !== pinnedSiteKey) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      "Cannot accept masthead: it belongs to another site than the one installed",
    );
  }
  let siteKey: CryptoKey;
  try {
    siteKey = await importSigningPublicKey(decodeBase64Url(claimed));
  } catch (cause) {
    throw new MleError(
      "ERR_DOCUMENT_INVALID",
      "Cannot read masthead: its site public key is not a raw Ed25519 key in base64url",
      { cause },
    );
  }
  const body = await verifyDocument(siteKey, "mle-masthead", document);
  const masthead = body as unknown as Masthead;
  if (
    masthead.version !== 1 || !Array.isArray(masthead.serverUrls) ||
    typeof masthead.siteName !== "string"
  ) {
    throw new MleError("ERR_DOCUMENT_INVALID", "Cannot read masthead: unknown version or fields");
  }
  return { masthead, siteKey };
}

/**
 * Checks a server or parent URL: http or https, a host, no credentials.
 *
 * @throws {RangeError} With what to give instead.
 */
export function parseServerUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(
      `Cannot use URL "${value}": expected http://HOST:PORT or https://HOST:PORT`,
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password) {
    throw new RangeError(
      `Cannot use URL "${value}": expected http(s)://HOST:PORT without credentials`,
    );
  }
  return url;
}
