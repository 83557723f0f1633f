import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { signHandover } from "../protocol/handover.ts";
import { type RegistrationClaims, signRegistration } from "../protocol/registration.ts";
import { SqliteStore } from "../store/sqlite_store.ts";
import { ComputerDirectory } from "./computer_directory.ts";
import { IngestError } from "./ingest_error.ts";
import { registerClient } from "./registration.ts";

const NOW = Date.UTC(2025, 0, 1);

interface Client {
  keys: CryptoKeyPair;
  publicKey: string;
}

async function newClient(): Promise<Client> {
  const keys = await generateSigningKeyPair();
  return { keys, publicKey: encodeBase64Url(await exportSigningPublicKey(keys.publicKey)) };
}

/** A hand-over signed by `signer`, saying computer `oldComputerId` hands over to `next`'s key. */
async function signedHandover(signer: Client, oldComputerId: number, next: Client, lastSeq = 0) {
  return await signHandover(signer.keys.privateKey, {
    oldComputerId,
    newPublicKey: next.publicKey,
    issuedAt: NOW,
    lastSeq,
  });
}

/**
 * A computer registered in `context` with a new key, and a next client holding the old key's
 * signed hand-over to it (with `lastSeq`).
 */
async function registeredWithHandover(context: ReturnType<typeof openServer>, lastSeq = 0) {
  const oldClient = await newClient();
  const old = await register(context, oldClient);
  const next = await newClient();
  const handover = await signedHandover(oldClient, old.computerId, next, lastSeq);
  return { old, next, handover };
}

function openServer() {
  const store = new SqliteStore(":memory:");
  return { store, computers: new ComputerDirectory(store), now: () => NOW };
}

async function register(
  context: ReturnType<typeof openServer>,
  client: Client,
  claims: Partial<RegistrationClaims> = {},
) {
  const registration = await signRegistration(client.keys.privateKey, {
    publicKey: client.publicKey,
    hostIdentity: "instance:machine-a",
    hostname: "a",
    issuedAt: NOW,
    ...claims,
  });
  return await registerClient(new TextEncoder().encode(JSON.stringify(registration)), context);
}

Deno.test("registerClient() gives the same id to the same key registering again", async () => {
  const context = openServer();
  const client = await newClient();
  const first = await register(context, client);
  const again = await register(context, client);
  assert.deepEqual([again.computerId, again.created], [first.computerId, false]);
  context.store.close();
});

Deno.test("registerClient() records a compromised-rotation claim and flags it, revoking nobody", async () => {
  const context = openServer();
  const victim = await register(context, await newClient());
  const claimant = await register(context, await newClient(), {
    previousComputerId: victim.computerId,
    compromised: true,
  });
  assert.deepEqual(claimant.linked, [{ oldComputerId: victim.computerId, how: "claimed" }]);
  const old = (await context.store.getComputer(victim.computerId))!;
  assert.deepEqual([old.revokedAt, old.replacedBy, old.duplicateOf], [null, null, null]);
  assert.deepEqual(await context.store.listInactiveIds(), []);
  const claimed = (await context.store.getComputer(claimant.computerId))!;
  assert.equal(claimed.claimsToReplace, victim.computerId);
  assert.equal(claimed.claimSignedByOldKey, false);
  assert.match(
    claimed.flagged!,
    new RegExp(
      `replace computer ${victim.computerId}.*nothing was revoked.*` +
        `mle-admin computers confirm ${claimant.computerId}.*` +
        `mle-admin computers revoke ${claimant.computerId}`,
    ),
  );
  context.store.close();
});

Deno.test("registerClient() flags a claim naming an unregistered computer and records no id", async () => {
  const context = openServer();
  const claimant = await register(context, await newClient(), {
    previousComputerId: 4242,
    compromised: true,
  });
  const record = (await context.store.getComputer(claimant.computerId))!;
  assert.equal(record.claimsToReplace, null);
  assert.match(record.flagged!, /computer 4242.*not registered here; nothing was changed/);
  assert.deepEqual(claimant.linked, []);
  context.store.close();
});

Deno.test("registerClient() marks an earlier registration of the same host identity a duplicate, still active", async () => {
  const context = openServer();
  const first = await register(context, await newClient());
  const second = await register(context, await newClient(), { hostname: "impostor" });
  assert.deepEqual(second.linked, [{ oldComputerId: first.computerId, how: "duplicate" }]);
  const old = (await context.store.getComputer(first.computerId))!;
  assert.equal(old.duplicateOf, second.computerId);
  assert.deepEqual(await context.store.listInactiveIds(), []);
  context.store.close();
});

Deno.test("registerClient() links a hand-over signed by the old key: the old id is replaced, with the hand-over's last sequence number", async () => {
  const context = openServer();
  const { old, next, handover } = await registeredWithHandover(context, 41);
  const result = await register(context, next, { handover });
  assert.deepEqual(result.linked, [{ oldComputerId: old.computerId, how: "replaced" }]);
  const replaced = (await context.store.getComputer(old.computerId))!;
  assert.deepEqual([replaced.replacedBy, replaced.handoverLastSeq], [result.computerId, 41]);
  // The directory the sender checks use holds the same record.
  assert.equal((await context.computers.get(old.computerId))!.record.handoverLastSeq, 41);
  assert.deepEqual(await context.store.listInactiveIds(), [old.computerId]);
  context.store.close();
});

Deno.test("registerClient() refuses a hand-over not signed by the old key, and registers nothing", async () => {
  const context = openServer();
  const victim = await register(context, await newClient());
  const attacker = await newClient();
  const forged = await signedHandover(attacker, victim.computerId, attacker);
  await assert.rejects(
    register(context, attacker, { handover: forged }),
    (error: unknown) =>
      error instanceof IngestError && error.status === 403 &&
      error.code === "ERR_HANDOVER_INVALID" && /not signed by computer/.test(error.message),
  );
  assert.equal((await context.store.listComputers()).length, 1);
  assert.deepEqual(await context.store.listInactiveIds(), []);
  context.store.close();
});

Deno.test("registerClient() refuses another key's hand-over replayed for a new key", async () => {
  const context = openServer();
  // The hand-over names another new key than the one that sends it.
  const { old, handover } = await registeredWithHandover(context);
  await assert.rejects(
    register(context, await newClient(), { handover }),
    (error: unknown) =>
      error instanceof IngestError && error.code === "ERR_HANDOVER_INVALID" &&
      /another key/.test(error.message),
  );
  assert.equal((await context.store.getComputer(old.computerId))!.replacedBy, null);
  context.store.close();
});

Deno.test("registerClient() keeps a compromised rotation's statement from the old key as evidence only, even for a revoked old id", async () => {
  const context = openServer();
  const { old, next, handover: statement } = await registeredWithHandover(context);
  await context.store.revokeComputer(old.computerId, NOW); // the operator acted on the breach first
  context.computers.clear();
  const result = await register(context, next, {
    handover: statement,
    compromised: true,
    previousComputerId: old.computerId,
  });
  assert.deepEqual(result.linked, [{ oldComputerId: old.computerId, how: "claimed" }]);
  const record = (await context.store.getComputer(result.computerId))!;
  assert.deepEqual([record.claimsToReplace, record.claimSignedByOldKey], [old.computerId, true]);
  assert.match(record.flagged!, /already revoked; nothing was changed/);
  assert.equal((await context.store.getComputer(old.computerId))!.replacedBy, null);

  // A statement from another key is no evidence, and refuses nothing either.
  const stranger = await newClient();
  const victim = await register(context, await newClient(), { hostIdentity: "instance:b" });
  const impostor = await newClient();
  const forged = await signedHandover(stranger, victim.computerId, impostor);
  const claim = await register(context, impostor, {
    handover: forged,
    compromised: true,
    previousComputerId: victim.computerId,
  });
  const flagged = (await context.store.getComputer(claim.computerId))!;
  assert.deepEqual([flagged.claimsToReplace, flagged.claimSignedByOldKey], [
    victim.computerId,
    false,
  ]);
  assert.deepEqual(await context.store.listInactiveIds(), [old.computerId]);
  context.store.close();
});
