/**
 * Test support for the relay: genuine upstream messages and registrations, a temporary data dir and a bounded wait.
 *
 * @module
 */

import { encryptionKeyId, generateEncryptionKeyPair } from "../envelope/encryption_key.ts";
import { createContentKey } from "../envelope/jwe.ts";
import { sealReport, signReport } from "../envelope/report_message.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { signRegistration } from "../protocol/registration.ts";

const encoder = new TextEncoder();

/** Builds genuine clear and encrypted upstream messages as a client would. */
export interface MessageFactory {
  /** A signed clear-text message, serialized as a client sends it. */
  clear(cid: number, seq: number): Promise<string>;
  /** A signed and sealed message, serialized as a client sends it. */
  encrypted(cid: number, seq: number): Promise<string>;
}

/** Makes one client key and one 2048-bit server key (slow: once per test file). */
export async function createMessageFactory(): Promise<MessageFactory> {
  const client = await generateSigningKeyPair();
  const server = await generateEncryptionKeyPair(2048);
  const { contentKey } = await createContentKey(
    server.publicKey,
    await encryptionKeyId(server.publicKey),
  );
  const report = (cid: number, seq: number) =>
    encoder.encode(JSON.stringify({ computerId: cid, seq, properties: { hostname: "test" } }));
  return {
    clear: async (cid, seq) =>
      JSON.stringify(
        await signReport(client.privateKey, { cid, seq, kid: null }, report(cid, seq)),
      ),
    encrypted: async (cid, seq) =>
      JSON.stringify(
        await sealReport(contentKey, client.privateKey, { cid, seq }, report(cid, seq)),
      ),
  };
}

/** The registration of `keys`, signed now as a client signs it, as host `hostIdentity`. */
export async function clientRegistration(
  keys: CryptoKeyPair,
  hostIdentity: string,
  hostname = hostIdentity,
): Promise<FlattenedJws> {
  return await signRegistration(keys.privateKey, {
    publicKey: encodeBase64Url(await exportSigningPublicKey(keys.publicKey)),
    hostIdentity,
    hostname,
    issuedAt: Date.now(),
  });
}

/** Runs `body` with a new temporary folder (named after `prefix`), removed afterwards. */
export async function withTempDir(
  prefix: string,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sleeps (for "nothing more happens" checks). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
