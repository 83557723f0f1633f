/**
 * What the console's sub-apps share: the Hono environment (the request's session and page
 * context, set by `console_app.ts` before any page runs) and the server objects they read.
 *
 * @module
 */

import { decodeBase64UrlText } from "../../envelope/base64url.ts";
import type { Store } from "../../store/mod.ts";
import type { UploadRecords } from "../../store/upload_records.ts";
import type { UploadFiles } from "../upload_store.ts";
import type { ConsoleSession } from "./console_sessions.ts";
import type { PageContext } from "./layout.tsx";

/** The Hono environment of console routes. */
export interface ConsoleEnv {
  Variables: { session: ConsoleSession; page: PageContext };
}

/** What the console reads. */
export interface ConsoleDeps {
  store: Store;
  /** Key ids this server holds private keys for now. */
  heldKids: () => readonly string[];
  /** The site public key from the masthead, to verify signed decisions. */
  siteKey: CryptoKey;
  now: () => number;
  /** The uploads' records and folders, for a computer's uploads; absent: the page says so. */
  uploads?: { records: UploadRecords; files: UploadFiles };
}

/**
 * Since when encryption has been unavailable to clients: null while a key is deployed; the date of
 * the signed "disabled" certificate; or forever (the largest safe integer) when no key was ever
 * deployed. Computers at level required that have not reported since are held.
 */
export async function encryptionUnavailableSince(store: Store): Promise<number | null> {
  if ((await store.listEncryptionKeys()).some((key) => key.role === "current")) return null;
  const text = await store.getDocument("encryption-certificate");
  if (text !== null) {
    try {
      // The store holds only documents verified or signed by the site: reading the date suffices.
      const body = JSON.parse(decodeBase64UrlText(JSON.parse(text).payload));
      if (body?.enabled === false && typeof body.issuedAt === "number") return body.issuedAt;
    } catch {
      // Unreadable: treat as never deployed.
    }
  }
  return Number.MAX_SAFE_INTEGER;
}

/** The payload of a stored site-signed document, or null when it cannot be read. */
export function storedPayload(text: string): Record<string, unknown> | null {
  try {
    const body = JSON.parse(decodeBase64UrlText(JSON.parse(text).payload));
    return typeof body === "object" && body !== null ? body : null;
  } catch {
    return null;
  }
}
