/**
 * The keys of the simulated clients that the benchmark's load generators (`bench_load.ts`) and
 * the soak (`soak_clients.ts`) play: the server's current key, read from its site-signed
 * certificate checked against the masthead, and each client's content key, reused within
 * `envelope/content_key_policy.ts` as the real client does.
 *
 * @module
 */

import { mayReuseContentKey } from "../envelope/content_key_policy.ts";
import { type ContentKey, createContentKey } from "../envelope/jwe.ts";
import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { API } from "../protocol/paths.ts";

/** The key reports are encrypted to. */
export interface ServerKey {
  kid: string;
  publicKey: CryptoKey;
}

/** A simulated client's content key and how it has been used. */
export interface ContentKeyHolder {
  contentKey: ContentKey | null;
  contentKeyCreatedAt: number;
  contentKeyMessages: number;
}

/**
 * The server's current key: the certificate served on `port`, verified with the site key of the
 * masthead at `mastheadPath`.
 *
 * @throws {Error} When the server does not answer in `timeoutMs`, the certificate does not verify,
 * or encryption is not enabled.
 */
export async function fetchServerKey(
  port: number,
  mastheadPath: string,
  timeoutMs: number,
): Promise<ServerKey> {
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(mastheadPath)));
  const response = await fetch(`http://127.0.0.1:${port}${API.encryptionCertificate}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  const { certificate, publicKey } = await verifyEncryptionCertificate(
    siteKey,
    await response.json(),
  );
  if (!certificate.enabled || !publicKey) throw new Error("encryption is not enabled");
  return { kid: certificate.kid, publicKey };
}

/**
 * The content key of the holder's next message to `serverKey`, counted as used: the one it holds
 * while the policy allows reusing it (and `fresh` is not asked), else a new one wrapped to the
 * server's key.
 */
export async function nextContentKey(
  holder: ContentKeyHolder,
  serverKey: ServerKey,
  fresh = false,
): Promise<{ contentKey: ContentKey; isNew: boolean }> {
  const now = Date.now();
  const reusable = !fresh && holder.contentKey !== null && mayReuseContentKey(
    {
      kid: holder.contentKey.kid,
      createdAt: holder.contentKeyCreatedAt,
      messages: holder.contentKeyMessages,
    },
    serverKey.kid,
    now,
  );
  if (!reusable || holder.contentKey === null) {
    holder.contentKey = (await createContentKey(serverKey.publicKey, serverKey.kid)).contentKey;
    holder.contentKeyCreatedAt = now;
    holder.contentKeyMessages = 0;
  }
  holder.contentKeyMessages++;
  return { contentKey: holder.contentKey, isNew: !reusable };
}
