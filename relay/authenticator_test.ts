import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { signReport } from "../envelope/report_message.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import {
  derivePasswordKey,
  proveKeyExchange,
  readKeyExchangeParameters,
} from "../protocol/key_exchange.ts";
import { API } from "../protocol/paths.ts";
import { signHandover } from "../protocol/handover.ts";
import { type RegistrationClaims, signRegistration } from "../protocol/registration.ts";
import { signRelayVoucher } from "../protocol/relay_voucher.ts";
import { freePort } from "../tests/run_role.ts";
import { ParentStub } from "./_parent_stub.ts";
import { createRelayApp } from "./app.ts";
import { KEY_EXCHANGE_REQUIRED_MESSAGE, RelayAuthenticator } from "./authenticator.ts";
import { AuthorizedClients } from "./authorized_clients.ts";
import { DocumentCache } from "./document_cache.ts";
import { ServerCertificate } from "./server_certificate.ts";
import { KeyExchangeSalts } from "./key_exchange_salts.ts";
import { KeyExchangeThrottle } from "./key_exchange_throttle.ts";
import { RelayPasswords } from "./relay_passwords.ts";
import { Spool } from "./spool.ts";
import { clientRegistration } from "./_test_utils.ts";

const SHARED = "the shared password";
const ONE_TIME = "a one-time password";
const client = await generateSigningKeyPair();
const clientKeyText = encodeBase64Url(await exportSigningPublicKey(client.publicKey));
const registration = await clientRegistration(client, "host");

interface Setup {
  app: ReturnType<typeof createRelayApp>;
  stub: ParentStub;
  spool: Spool;
  revoked: Set<number>;
  authorized: AuthorizedClients;
}

/** An authenticating relay app over a real data dir, with a parent stub. */
async function withAuthenticatingRelay(
  body: (setup: Setup) => Promise<void>,
  parentUrl?: string,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-auth-" });
  const stub = new ParentStub();
  try {
    const oneTime = `${dataDir}/one-time.txt`;
    await Deno.writeTextFile(oneTime, `${ONE_TIME}\n`, { mode: 0o600 });
    await Deno.chmod(oneTime, 0o600);
    const url = parentUrl ?? stub.url;
    const spool = await Spool.open(dataDir);
    const revoked = new Set<number>();
    const revocations = { isRevoked: (id: number) => revoked.has(id) };
    const authorized = await AuthorizedClients.open(dataDir);
    const passwords = await RelayPasswords.open({
      sharedPassword: SHARED,
      oneTimePasswordsFile: oneTime,
      dataDir,
    });
    await passwords.ready();
    const authenticator = new RelayAuthenticator({ authorized, passwords, revocations });
    const app = createRelayApp({
      spool,
      forwarder: { wake: () => {} },
      documents: await DocumentCache.open({
        dir: `${dataDir}/cache`,
        parentUrl: url,
        certificate: new ServerCertificate({
          parentUrl: url,
          dataDir,
          siteKey: () => Promise.resolve(null),
          log: silentLogger,
        }),
      }),
      parentUrl: url,
      acceptsEncryptedReports: true,
      registrationTimeoutMs: 2_000,
      authenticator,
      keyExchangeSalts: new KeyExchangeSalts(authenticator.salt, url),
    });
    await body({ app, stub, spool, revoked, authorized });
  } finally {
    await stub.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** A key-exchange proof of `password` for the salts `app` publishes. */
async function proofFor(app: Setup["app"], signed: FlattenedJws, password: string) {
  const answer = await app.request(API.keyExchange);
  const { salts } = readKeyExchangeParameters(await answer.json());
  const keys = await Promise.all(salts.map((salt) => derivePasswordKey(password, salt)));
  return await proveKeyExchange(signed, keys);
}

async function register(app: Setup["app"], password?: string) {
  const body = password === undefined
    ? registration
    : { ...registration, keyExchange: await proofFor(app, registration, password) };
  return await app.request(API.register, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function report(app: Setup["app"], cid: number, key = client.privateKey) {
  const message = await signReport(key, { cid, seq: 1, kid: null }, new TextEncoder().encode("{}"));
  return await app.request(API.reports, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
}

Deno.test("authenticating relay says so, and refuses a registration without a key exchange with what to do", async () => {
  await withAuthenticatingRelay(async ({ app, stub }) => {
    assert.equal((await (await app.request(API.capabilities)).json()).authenticating, true);
    const response = await register(app);
    assert.equal(response.status, 403);
    assert.deepEqual(await response.json(), {
      error: { code: "ERR_KEY_EXCHANGE_REQUIRED", message: KEY_EXCHANGE_REQUIRED_MESSAGE },
    });
    const wrong = await register(app, "a guess");
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).error.code, "ERR_KEY_EXCHANGE_FAILED");
    const malformed = await app.request(API.register, { method: "POST", body: "[1]" });
    assert.equal(malformed.status, 400);
    await malformed.body?.cancel();
    assert.deepEqual(stub.registrations, [], "nothing reached the parent");
  });
});

Deno.test("authenticating relay forwards a registration with a valid proof without the proof, and admits the client", async () => {
  await withAuthenticatingRelay(async ({ app, stub, spool, authorized }) => {
    assert.equal((await report(app, 42)).status, 403);
    const response = await register(app, SHARED);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { computerId: 42 });
    assert.deepEqual(JSON.parse(stub.registrations[0]), registration);
    assert.equal(authorized.get(42)?.publicKey, clientKeyText);
    assert.equal(authorized.get(42)?.by, "shared password");

    assert.equal((await report(app, 42)).status, 202);
    assert.equal(spool.count(), 1);
    const intruder = await generateSigningKeyPair();
    const forged = await report(app, 42, intruder.privateKey);
    assert.equal(forged.status, 403);
    assert.equal((await forged.json()).error.code, "ERR_SIGNATURE_INVALID");
    const unknown = await report(app, 43);
    assert.equal((await unknown.json()).error.code, "ERR_KEY_EXCHANGE_REQUIRED");
    assert.equal(spool.count(), 1);

    // A known key registers again without a proof (a re-registration after a lost id).
    assert.equal((await register(app)).status, 200);
    assert.equal(stub.registrations.length, 2);
  });
});

/** A new key's registration after a rotation of computer 42, with a hand-over `signer` signed. */
async function rotatedRegistration(signer: CryptoKey, extra: Partial<RegistrationClaims> = {}) {
  const next = await generateSigningKeyPair();
  const publicKey = encodeBase64Url(await exportSigningPublicKey(next.publicKey));
  const handover = await signHandover(signer, {
    oldComputerId: 42,
    newPublicKey: publicKey,
    issuedAt: Date.now(),
    lastSeq: 3,
  });
  const signed = await signRegistration(next.privateKey, {
    publicKey,
    hostIdentity: "host",
    hostname: "host",
    issuedAt: Date.now(),
    handover,
    ...extra,
  });
  return { next, publicKey, body: JSON.stringify(signed) };
}

async function post(app: Setup["app"], body: string) {
  return await app.request(API.register, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

Deno.test("authenticating relay admits a new key with a hand-over signed by an admitted computer's key, and records it once the parent gives its id", async () => {
  await withAuthenticatingRelay(async ({ app, stub, authorized }) => {
    assert.equal((await register(app, SHARED)).status, 200);
    const rotated = await rotatedRegistration(client.privateKey);
    stub.registrationAnswer = { status: 201, body: JSON.stringify({ computerId: 43 }) };
    const response = await post(app, rotated.body);
    assert.equal(response.status, 201, await response.clone().text());
    assert.deepEqual(await response.json(), { computerId: 43 });
    assert.equal(stub.registrations.length, 2);
    assert.deepEqual(JSON.parse(stub.registrations[1]), JSON.parse(rotated.body));
    assert.deepEqual([authorized.get(43)?.publicKey, authorized.get(43)?.by], [
      rotated.publicKey,
      "hand-over",
    ]);
    assert.equal((await report(app, 43, rotated.next.privateKey)).status, 202);
  });
});

Deno.test("authenticating relay refuses a forged hand-over, a revoked computer's, and a compromised rotation's without the key exchange, forwarding none", async () => {
  await withAuthenticatingRelay(async ({ app, stub, revoked, authorized }) => {
    assert.equal((await register(app, SHARED)).status, 200);
    const stranger = await generateSigningKeyPair();
    const forged = await post(app, (await rotatedRegistration(stranger.privateKey)).body);
    assert.equal(forged.status, 403);
    const error = (await forged.json()).error;
    assert.equal(error.code, "ERR_HANDOVER_INVALID");
    assert.match(error.message, /not signed by computer 42's key; run mle-client register/);

    // Signed by the admitted key, but for a compromised rotation: a thief may hold that key.
    const compromised = await post(
      app,
      (await rotatedRegistration(client.privateKey, { compromised: true, previousComputerId: 42 }))
        .body,
    );
    assert.equal(compromised.status, 403);
    assert.equal((await compromised.json()).error.code, "ERR_KEY_EXCHANGE_REQUIRED");

    revoked.add(42);
    const fromRevoked = await post(app, (await rotatedRegistration(client.privateKey)).body);
    assert.equal(fromRevoked.status, 403);
    assert.equal((await fromRevoked.json()).error.code, "ERR_COMPUTER_REVOKED");
    assert.equal(stub.registrations.length, 1, "only the first, password-admitted registration");
    assert.equal(authorized.size, 1);
  });
});

Deno.test("authenticating relay requires the key exchange for a hand-over from a computer it did not admit", async () => {
  await withAuthenticatingRelay(async ({ app, stub }) => {
    const answer = await post(app, (await rotatedRegistration(client.privateKey)).body);
    assert.equal(answer.status, 403);
    assert.equal((await answer.json()).error.code, "ERR_KEY_EXCHANGE_REQUIRED");
    assert.equal(stub.registrations.length, 0);
  });
});

Deno.test("authenticating relay refuses revoked computers' reports, settings and registrations", async () => {
  await withAuthenticatingRelay(async ({ app, stub, revoked }) => {
    assert.equal((await register(app, SHARED)).status, 200);
    revoked.add(42);
    const refused = await report(app, 42);
    assert.equal(refused.status, 403);
    assert.match((await refused.json()).error.message, /revoked.*rotate-keys/);
    const settings = await app.request(`${API.settings}?computer=42`);
    assert.equal(settings.status, 403);
    assert.equal((await settings.json()).error.code, "ERR_COMPUTER_REVOKED");
    const again = await register(app, SHARED);
    assert.equal((await again.json()).error.code, "ERR_COMPUTER_REVOKED");
    assert.equal(stub.registrations.length, 1, "the known revoked key was not forwarded");
  });
});

Deno.test("authenticating relay gives a one-time password back when the registration does not complete", async () => {
  await withAuthenticatingRelay(async ({ app, stub, authorized }) => {
    stub.registrationAnswer = { status: 400, body: '{"error":{"code":"ERR_X","message":"no"}}' };
    assert.equal((await register(app, ONE_TIME)).status, 400);
    assert.equal(authorized.size, 0);
    stub.registrationAnswer = { status: 200, body: JSON.stringify({ computerId: 42 }) };
    assert.equal((await register(app, ONE_TIME)).status, 200);
    assert.equal(authorized.get(42)?.by, "one-time password");

    // Used now: another key with the same one-time password is refused.
    const other = await generateSigningKeyPair();
    const otherRegistration = await clientRegistration(other, "other");
    const reused = await app.request(API.register, {
      method: "POST",
      body: JSON.stringify({
        ...otherRegistration,
        keyExchange: await proofFor(app, otherRegistration, ONE_TIME),
      }),
    });
    assert.equal(reused.status, 403);
    assert.match((await reused.json()).error.message, /already used/);
  });
});

Deno.test("authenticating relay gives a one-time password back when the parent does not answer", async () => {
  await withAuthenticatingRelay(async ({ app }) => {
    assert.equal((await register(app, ONE_TIME)).status, 503);
    assert.equal((await register(app, ONE_TIME)).status, 503, "still usable");
  }, `http://127.0.0.1:${freePort()}`);
});

/** An authenticator over a real data dir, trusting the given relay keys. */
async function withVouchingSetup(
  body: (setup: {
    authenticator: RelayAuthenticator;
    relay: CryptoKeyPair;
    relayKey: string;
    throttle: KeyExchangeThrottle;
    salt: string;
  }) => Promise<void>,
  trust = true,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-voucher-" });
  try {
    const relay = await generateSigningKeyPair();
    const relayKey = encodeBase64Url(await exportSigningPublicKey(relay.publicKey));
    const throttle = new KeyExchangeThrottle({ burst: 1, refillMs: 60_000 });
    const passwords = await RelayPasswords.open({ sharedPassword: SHARED, dataDir });
    const authenticator = new RelayAuthenticator({
      authorized: await AuthorizedClients.open(dataDir),
      passwords,
      revocations: { isRevoked: () => false },
      throttle,
      trustedRelayKeys: trust ? [relayKey] : [],
    });
    await body({ authenticator, relay, relayKey, throttle, salt: passwords.salt });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** What an authenticating relay below says of a client it admitted. */
const ADMITTED = { admitted: true, source: "192.0.2.1" };

function bytesOf(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

Deno.test("a voucher of a trusted relay below admits a registration without a password of this relay's", async () => {
  await withVouchingSetup(async ({ authenticator, relay, relayKey, throttle, salt }) => {
    const relayVoucher = await signRelayVoucher(relay.privateKey, relayKey, registration, ADMITTED);
    const admitted = await authenticator.admitRegistration(
      bytesOf({ ...registration, relayVoucher }),
      "192.0.2.1",
    );
    assert.ok(!("refusal" in admitted), JSON.stringify(admitted));
    const forwarded = JSON.parse(admitted.body);
    assert.equal(forwarded.relayVoucher, undefined);
    assert.equal(forwarded.keyExchange, undefined);

    // With a password this relay does not know, the voucher still admits, and no guess counts.
    const withWrongProof = await authenticator.admitRegistration(
      bytesOf({
        ...registration,
        keyExchange: await proveKeyExchange(registration, [
          await derivePasswordKey("the lower relay's own", salt),
        ]),
        relayVoucher,
      }),
      "192.0.2.1",
    );
    assert.ok(!("refusal" in withWrongProof));
    assert.equal(throttle.waitMs("192.0.2.1"), 0);
  });
});

Deno.test("a voucher of an untrusted relay, or for another registration, admits nothing", async () => {
  await withVouchingSetup(async ({ authenticator, relay, relayKey }) => {
    const other = await clientRegistration(client, "another", "host");
    const forOther = await signRelayVoucher(relay.privateKey, relayKey, other, ADMITTED);
    const refused = await authenticator.admitRegistration(
      bytesOf({ ...registration, relayVoucher: forOther }),
    );
    assert.ok("refusal" in refused);
    assert.equal(refused.refusal.body.error.code, "ERR_KEY_EXCHANGE_REQUIRED");
  });
  await withVouchingSetup(async ({ authenticator, relay, relayKey }) => {
    const relayVoucher = await signRelayVoucher(relay.privateKey, relayKey, registration, ADMITTED);
    const refused = await authenticator.admitRegistration(
      bytesOf({ ...registration, relayVoucher }),
    );
    assert.ok("refusal" in refused);
    assert.equal(refused.refusal.body.error.code, "ERR_KEY_EXCHANGE_REQUIRED");
  }, false);
});
