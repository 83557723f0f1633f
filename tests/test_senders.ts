/**
 * Test support: senders a test drives itself with the product's own signing code — a key
 * registered without a client process, a registered client's key, a stolen or old key — for
 * crafted or many fast reports.
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import { signReport } from "../envelope/report_message.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { API } from "../protocol/paths.ts";
import { type RegistrationClaims, signRegistration } from "../protocol/registration.ts";
import {
  derivePasswordKey,
  type PasswordKey,
  readKeyExchangeParameters,
} from "../protocol/key_exchange.ts";
import { readClientKey } from "../keystore/key_storage.ts";
import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { reportBytes } from "./report_bytes.ts";
import { clientReport } from "./role_processes.ts";
import type { TestSite } from "./test_site.ts";

/** A sender registered by the test itself, which signs reports as a client would. */
export interface TestSender {
  computerId: number;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** A genuine signed clear-text report message (`POST /api/v1/reports` body) for `seq`. */
  report(seq: number, padding?: number): Promise<string>;
}

/**
 * Registers a new key with the server (or a plain relay) at `parentPort`, without a client
 * process, for tests that send many reports quickly. `padding` makes a report about that many
 * bytes larger.
 */
export async function registerSender(parentPort: number): Promise<TestSender> {
  const { privateKey, publicKey } = await generateSigningKeyPair();
  const publicKeyText = encodeBase64Url(await exportSigningPublicKey(publicKey));
  const registration = await signRegistration(privateKey, {
    publicKey: publicKeyText,
    hostIdentity: `test-sender:${crypto.randomUUID()}`,
    hostname: "test-sender",
    issuedAt: Date.now(),
  });
  const response = await fetch(`http://127.0.0.1:${parentPort}${API.register}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(registration),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`registration: ${JSON.stringify(body)}`);
  const computerId = body.computerId as number;
  return {
    computerId,
    privateKey,
    publicKey,
    report: async (seq, padding = 0) => {
      const custom: Record<string, string> = padding > 0 ? { padding: "x".repeat(padding) } : {};
      const bytes = reportBytes(computerId, seq, custom, { hostname: "test-sender" });
      return JSON.stringify(
        await signReport(privateKey, { cid: computerId, seq, kid: null }, bytes),
      );
    },
  };
}

/**
 * The keys of `password` for the salts a relay publishes (`GET /api/v1/key-exchange`), as
 * `mle-client register` derives them, for tests that post registrations themselves.
 */
export async function passwordKeysFor(relayUrl: string, password: string): Promise<PasswordKey[]> {
  const answer = await fetch(`${relayUrl}${API.keyExchange}`);
  if (answer.status !== 200) throw new Error(`key-exchange parameters: HTTP ${answer.status}`);
  const { salts } = readKeyExchangeParameters(await answer.json());
  return await Promise.all(salts.map((salt) => derivePasswordKey(password, salt)));
}

/**
 * Posts a clear report signed with `key` claiming to come from `cid` straight to the server at
 * `port`: what someone holding an old or stolen client key can do.
 */
export async function postReportSignedAs(
  port: number,
  key: CryptoKey,
  cid: number,
  seq: number,
): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  const message = await signReport(key, { cid, seq, kid: null }, reportBytes(cid, seq, {}, {}));
  const response = await postReport(port, JSON.stringify(message));
  return { status: response.status, body: await response.json() };
}

/** Posts a report message (a `POST /api/v1/reports` body) to the server or relay at `port`. */
export async function postReport(port: number, body: string): Promise<Response> {
  return await fetch(`http://127.0.0.1:${port}${API.reports}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

/**
 * A client registered through `mle-client report`, as a test process can use it to send crafted
 * messages with the product's own sealing code: its computer id, its private key, and the server
 * key its verified certificate names.
 */
export interface RegisteredSender {
  cid: number;
  privateKey: CryptoKey;
  kid: string;
  serverPublicKey: CryptoKey;
}

/** Registers a client (one encrypted report through `parentPort`) and returns it as a sender. */
export async function registeredSender(
  site: TestSite,
  clientDir: string,
  parentPort: number,
): Promise<RegisteredSender> {
  const result = await clientReport(site, clientDir, parentPort, ["--encryption", "required"]);
  if (result.code !== 0) throw new Error(`client report exited ${result.code}\n${result.stderr}`);
  const key = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);
  const state = JSON.parse(await Deno.readTextFile(`${clientDir}/state.json`));
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)));
  const { certificate, publicKey } = await verifyEncryptionCertificate(
    siteKey,
    JSON.parse(state.certificate),
  );
  if (!publicKey) throw new Error("the client's certificate enables no encryption");
  return {
    cid: state.computerId as number,
    privateKey: key.privateKey,
    kid: (certificate as { kid: string }).kid,
    serverPublicKey: publicKey,
  };
}

/** Registers a fresh key with the server, claiming whatever `claims` says; returns the answer. */
export async function registerFreshKey(
  site: TestSite,
  claims: Omit<RegistrationClaims, "publicKey" | "issuedAt">,
): Promise<{ status: number; body: { computerId?: number; error?: { code: string } } }> {
  const keys = await generateSigningKeyPair();
  const registration = await signRegistration(keys.privateKey, {
    ...claims,
    publicKey: encodeBase64Url(await exportSigningPublicKey(keys.publicKey)),
    issuedAt: Date.now(),
  });
  const response = await fetch(`http://127.0.0.1:${site.serverPort}${API.register}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(registration),
  });
  return { status: response.status, body: await response.json() };
}
