/**
 * Attacks on the manual key exchange, with real processes on 127.0.0.1 (issue 11, section 6):
 * a flood of bogus registrations, and bad guesses from one endpoint behind a plain relay.
 * Attackers with many addresses are played by posting from many loopback source addresses.
 */

import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { proveKeyExchange } from "../protocol/key_exchange.ts";
import { API } from "../protocol/paths.ts";
import { signRegistration } from "../protocol/registration.ts";
import {
  clientSiteArgs,
  createSite,
  freePort,
  passwordKeysFor,
  RELAY_SHARED_PASSWORD,
  relayKeyOf,
  relayPasswordFile,
  secretFile,
  startRelay,
  startServer,
  startUpperRelay,
  type TestSite,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { postJsonFrom } from "./post_from.ts";
import { type RoleResult, runRole } from "./run_role.ts";

async function register(site: TestSite, clientDir: string, args: string[]): Promise<RoleResult> {
  return await runRole("client", ["register", ...args, ...clientSiteArgs(site, clientDir)]);
}

/** A registration of a fresh key, signed as a client would sign it. */
async function freshRegistration(): Promise<FlattenedJws> {
  const pair = await generateSigningKeyPair();
  return await signRegistration(pair.privateKey, {
    publicKey: encodeBase64Url(await exportSigningPublicKey(pair.publicKey)),
    hostIdentity: crypto.randomUUID(),
    hostname: "guesser",
    issuedAt: Date.now(),
  });
}

/** A registration body with a key-exchange proof of `password` for the relay at `relayUrl`. */
async function guessBody(relayUrl: string, password: string): Promise<Record<string, unknown>> {
  const registration = await freshRegistration();
  const keys = await passwordKeysFor(relayUrl, password);
  return { ...registration, keyExchange: await proveKeyExchange(registration, keys) };
}

const random43 = () => encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));

/**
 * A registration body with a proof that matches nothing: random bytes where the MAC goes, naming
 * `id` (a password's public id, as anyone who watched a registration saw it) or a random one.
 */
function bogusBody(registration: FlattenedJws, salt: string, id: string): Record<string, unknown> {
  return { ...registration, keyExchange: { proofs: [{ salt, id, mac: random43() }] } };
}

Deno.test("bogus registrations from many addresses against a relay with 1,000 one-time passwords do not stop a legitimate registration", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const passwordFile = await relayPasswordFile(site);
  const oneTime = Array.from({ length: 1_000 }, () => crypto.randomUUID()).join("\n");
  const oneTimeFile = await secretFile(`${site.root}/one-time.txt`, `${oneTime}\n`);
  const relayPort = freePort();
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  await using _relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    "--authenticating",
    "--password-file",
    passwordFile,
    "--one-time-passwords",
    oneTimeFile,
  ], { waitForOneTimePasswords: false }); // their keys are derived in the background while the flood runs
  const registration = await freshRegistration();
  // The shared password's id, as a registration observed on the wire shows it.
  const [{ salt, id: sharedId }] = await passwordKeysFor(relayUrl, RELAY_SHARED_PASSWORD);
  const answers = new Map<string, number>();
  let answered = 0;
  let flooding = true;
  // Each request from a new address, as a botnet's: no per-address throttle stops the flood.
  const flooders = Array.from({ length: 400 }, async (_, flooder) => {
    for (let sent = 0; flooding; sent++) {
      const source = `127.${1 + (flooder >> 8)}.${flooder & 255}.${1 + (sent % 250)}`;
      try {
        const answer = await postJsonFrom(
          source,
          `${relayUrl}${API.register}`,
          bogusBody(registration, salt, sent % 2 === 0 ? sharedId : random43()),
        );
        const code = `${answer.status} ${JSON.parse(answer.body).error?.code}`;
        answers.set(code, (answers.get(code) ?? 0) + 1);
      } catch {
        answers.set("no answer", (answers.get("no answer") ?? 0) + 1);
      }
      answered++;
    }
  });
  try {
    await eventually(() => answered >= 100 || undefined, "the flood under way");
    const registered = await register(site, `${site.root}/client`, [
      "--password-file",
      passwordFile,
      relayUrl,
    ]);
    const duringRegistration = answered;
    assert.equal(registered.code, 0, registered.stderr);
    assert.ok(Number(registered.stdout.trim()) > 0, registered.stdout);
    // The flood was still running when the registration came through.
    await eventually(() => answered >= duringRegistration + 50 || undefined, "more of the flood");
    flooding = false;
    await Promise.all(flooders);
    // Every bogus proof was refused on its merits (a random id while the one-time passwords are
    // still being derived: come back later), none was throttled, none went unanswered.
    const codes = [...answers.keys()].sort();
    assert.ok(codes.includes("403 ERR_KEY_EXCHANGE_FAILED"), String([...answers]));
    assert.ok(
      codes.every((code) =>
        ["403 ERR_KEY_EXCHANGE_FAILED", "503 ERR_KEY_EXCHANGE_NOT_READY"].includes(code)
      ),
      String([...answers]),
    );
  } finally {
    flooding = false;
    await Promise.all(flooders);
  }
});

Deno.test("ten bad guesses from one endpoint behind a plain relay do not lock out another client of that relay", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const passwordFile = await relayPasswordFile(site);
  const plainDir = `${site.root}/plain`;
  await using upper = await startUpperRelay(site, passwordFile, await relayKeyOf(plainDir));
  const plainPort = freePort();
  const plainUrl = `http://127.0.0.1:${plainPort}`;
  await using _plain = await startRelay(plainDir, plainPort, upper.port);
  // One endpoint (127.0.0.2) guesses ten times through the plain relay, then is slowed.
  for (let guess = 0; guess < 10; guess++) {
    const answer = await postJsonFrom(
      "127.0.0.2",
      `${plainUrl}${API.register}`,
      await guessBody(plainUrl, `guess ${guess}`),
    );
    assert.equal(answer.status, 403, answer.body);
    assert.equal(JSON.parse(answer.body).error.code, "ERR_KEY_EXCHANGE_FAILED");
  }
  const slowed = await postJsonFrom(
    "127.0.0.2",
    `${plainUrl}${API.register}`,
    await guessBody(plainUrl, RELAY_SHARED_PASSWORD),
  );
  assert.equal(slowed.status, 429, slowed.body);
  assert.equal(JSON.parse(slowed.body).error.code, "ERR_TOO_MANY_ATTEMPTS");

  // Another client of the same plain relay (127.0.0.1) registers with the right password.
  const registered = await register(site, `${site.root}/client`, [
    "--password-file",
    passwordFile,
    plainUrl,
  ]);
  assert.equal(registered.code, 0, registered.stderr);
  assert.match(upper.stderr, /key exchange failed reason="?wrong"? source="?127\.0\.0\.2"?/);
});
