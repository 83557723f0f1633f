/**
 * Authenticating relays, the manual key exchange and revocation reaching relays, with real
 * processes on 127.0.0.1: server, relays, clients and the admin tool, each with its executable's
 * permissions.
 */

import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { signReport } from "../envelope/report_message.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { openSiteKeyFile } from "../keystore/site_key.ts";
import { proveKeyExchange } from "../protocol/key_exchange.ts";
import { API } from "../protocol/paths.ts";
import { signRegistration } from "../protocol/registration.ts";
import { signRevocations } from "../protocol/revocations.ts";
import { openStore } from "../store/mod.ts";
import {
  admin,
  clientReport,
  clientSiteArgs,
  clientStatus,
  createSite,
  createSiteWithKey,
  freePort,
  listComputers,
  passwordKeysFor,
  postReport,
  RecordingProxy,
  registersNothing,
  RELAY_SHARED_PASSWORD,
  relayKeyOf,
  relayPasswordFile,
  secretFile,
  spooledMessages,
  startRelay,
  startServer,
  startUpperRelay,
  storedReports,
  TEST_PASSWORD,
  type TestSite,
} from "./deployment.ts";
import { type RoleProcess, type RoleResult, runRole } from "./run_role.ts";
import { eventually } from "./eventually.ts";

/** Runs `mle-client register` (or any client command) for a client data dir. */
async function client(
  site: TestSite,
  clientDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<RoleResult> {
  return await runRole("client", [...args, ...clientSiteArgs(site, clientDir)], { env });
}

/** Runs `mle-client register ARGS…` for a client data dir (the relay URL last). */
async function register(site: TestSite, clientDir: string, args: string[]): Promise<RoleResult> {
  return await client(site, clientDir, ["register", ...args]);
}

/** What a relay holds of reports: each one waiting in its spool, and the files in rejected/. */
async function spooled(relayDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    const waiting = await spooledMessages(relayDir);
    names.push(...waiting.map((_, i) => `spool: waiting report ${i + 1}`));
    for await (const entry of Deno.readDir(`${relayDir}/rejected`)) {
      names.push(`rejected/${entry.name}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names;
}

/**
 * Starts an authenticating relay `name` below the one on `upperPort`, checking the password in
 * `passwordFile`, registers the client `client-c` through it with that password, and stops it;
 * the registration's result.
 */
async function registerThroughRelayBelow(
  site: TestSite,
  name: string,
  upperPort: number,
  passwordFile: string,
): Promise<RoleResult> {
  const port = freePort();
  await using _relay = await startRelay(`${site.root}/${name}`, port, upperPort, [
    "--authenticating",
    "--password-file",
    passwordFile,
  ]);
  return await register(site, `${site.root}/client-c`, [
    "--password-file",
    passwordFile,
    `http://127.0.0.1:${port}`,
  ]);
}

async function stopAll(processes: RoleProcess[]): Promise<void> {
  for (const process of processes.reverse()) await process.stop();
}

Deno.test("an authenticating relay refuses an unregistered client with the exact register command, admits it after the key exchange, and checks report signatures", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site);
  await using upstream = new RecordingProxy(site.serverPort);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  const passwordFile = await relayPasswordFile(site);
  await using relay = await startRelay(relayDir, relayPort, upstream.port, [
    "--authenticating",
    "--password-file",
    passwordFile,
  ]);
  const capabilities = await (await fetch(`${relayUrl}${API.capabilities}`)).json();
  assert.equal(capabilities.authenticating, true);

  // Unregistered: exit 1, the exact command (naming this client's data dir), nothing upstream.
  const clientDir = `${site.root}/client-a`;
  const refused = await clientReport(site, clientDir, relayPort, ["--property", "Try=1"]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /mle-client: error: .*authenticating relay/);
  assert.ok(
    refused.stderr.includes(
      `mle-client: hint: run "mle-client register --password … --data-dir ${clientDir} ${relayUrl}"`,
    ),
    refused.stderr,
  );
  assert.deepEqual(await listComputers(site), []);
  assert.ok(!upstream.text.includes(`POST ${API.register}`), "a registration reached the server");
  assert.ok(!upstream.text.includes(`POST ${API.reports}`), "a report reached the server");
  assert.equal((await clientStatus(clientDir)).queueDepth, 1, "the report stays queued");
  assert.deepEqual(await spooled(relayDir), []);

  // The key exchange with the shared password from a file: prints the computer id.
  const registered = await register(site, clientDir, ["--password-file", passwordFile, relayUrl]);
  assert.equal(registered.code, 0, registered.stderr);
  const computerId = Number(registered.stdout.trim());
  assert.ok(Number.isSafeInteger(computerId) && computerId > 0, registered.stdout);
  assert.doesNotMatch(registered.stderr, /warning/);
  assert.equal((await clientStatus(clientDir)).computerId, computerId);
  assert.ok(!upstream.text.includes("keyExchange"), "the proof went past the relay");

  // Now its reports (the queued one too) pass, encrypted, and reach the server.
  const delivered = await clientReport(site, clientDir, relayPort, ["--property", "Try=2"]);
  assert.equal(delivered.code, 0, delivered.stderr);
  const stored = await eventually(async () => {
    const reports = await storedReports(site, computerId);
    return reports.length >= 2 ? reports : undefined;
  }, "both reports stored");
  assert.deepEqual(stored.map((r) => r.report.custom.Try).sort(), ["1", "2"]);
  assert.ok(stored.every((r) => r.encrypted));

  // Settings only for admitted computers.
  const settings = await fetch(`${relayUrl}${API.settings}?computer=${computerId}`);
  assert.equal(settings.status, 200);
  await settings.body?.cancel();
  const otherSettings = await fetch(`${relayUrl}${API.settings}?computer=${computerId + 100}`);
  assert.equal(otherSettings.status, 403);
  assert.equal((await otherSettings.json()).error.code, "ERR_KEY_EXCHANGE_REQUIRED");

  // A report claiming the admitted computer's id, signed with another key: refused.
  const intruder = await generateSigningKeyPair();
  const forged = await signReport(
    intruder.privateKey,
    { cid: computerId, seq: 999, kid: null },
    new TextEncoder().encode("{}"),
  );
  const forgedAnswer = await postReport(relayPort, JSON.stringify(forged));
  assert.equal(forgedAnswer.status, 403);
  assert.equal((await forgedAnswer.json()).error.code, "ERR_SIGNATURE_INVALID");

  // A registration without a proof: the brief's message.
  const bare = await fetch(`${relayUrl}${API.register}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      protected: "e30",
      payload: "e30",
      signature: encodeBase64Url(new Uint8Array(64)),
    }),
  });
  assert.ok(bare.status === 400 || bare.status === 403);
  await bare.body?.cancel();

  // A wrong password: refused, warned about argv, nothing registered.
  const wrong = await registersNothing(
    site,
    () => register(site, `${site.root}/client-b`, ["--password", "not the password", relayUrl]),
  );
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /mle-client: warning: a password on the command line is visible/);
  assert.match(wrong.stderr, /Cannot complete the key exchange: .*not one of this relay's/);

  // The original's form, and the password from the environment.
  const original = await client(site, `${site.root}/client-c`, [
    "-register",
    RELAY_SHARED_PASSWORD,
    relayUrl,
  ]);
  assert.equal(original.code, 0, original.stderr);
  assert.match(original.stderr, /warning: a password on the command line/);
  const fromEnv = await client(site, `${site.root}/client-d`, ["register", relayUrl], {
    MLE_RELAY_PASSWORD: RELAY_SHARED_PASSWORD,
  });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  const fromEnvReport = await clientReport(site, `${site.root}/client-d`, relayPort);
  assert.equal(fromEnvReport.code, 0, fromEnvReport.stderr);

  // A relay that does not answer: exit 4, nothing registered.
  const unreachable = await register(site, `${site.root}/client-e`, [
    "--password-file",
    passwordFile,
    `http://127.0.0.1:${freePort()}`,
  ]);
  assert.equal(unreachable.code, 4, unreachable.stderr);
  assert.match(unreachable.stderr, /nothing was registered/);

  assert.ok(!relay.stderr.includes(RELAY_SHARED_PASSWORD), "the relay logged its password");
  assert.match(relay.stderr, /client admitted cid=\d+ by="shared password"/);
});

/** Posts a registration of a fresh key with a key-exchange proof of `password`. */
async function registerRaw(relayUrl: string, password: string): Promise<Response> {
  const pair = await generateSigningKeyPair();
  const registration = await signRegistration(pair.privateKey, {
    publicKey: encodeBase64Url(await exportSigningPublicKey(pair.publicKey)),
    hostIdentity: crypto.randomUUID(),
    hostname: "guesser",
    issuedAt: Date.now(),
  });
  return await fetch(`${relayUrl}${API.register}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      ...registration,
      keyExchange: await proveKeyExchange(registration, await passwordKeysFor(relayUrl, password)),
    }),
  });
}

Deno.test("an authenticating relay slows password guessing: after ten wrong passwords from one address even the right one waits, and nothing is registered", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const relayPort = freePort();
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  const passwordFile = await relayPasswordFile(site);
  await using relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    "--authenticating",
    "--password-file",
    passwordFile,
  ]);
  const before = (await listComputers(site)).length;
  for (let guess = 0; guess < 10; guess++) {
    const answer = await registerRaw(relayUrl, `guess ${guess}`);
    assert.equal(answer.status, 403, `guess ${guess}`);
    assert.equal((await answer.json()).error.code, "ERR_KEY_EXCHANGE_FAILED");
  }
  // The eleventh try waits, whatever its password: checked before the proof.
  const waiting = await registerRaw(relayUrl, RELAY_SHARED_PASSWORD);
  assert.equal(waiting.status, 429);
  const retryAfter = Number(waiting.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After: ${retryAfter}`);
  const body = await waiting.json();
  assert.equal(body.error.code, "ERR_TOO_MANY_ATTEMPTS");
  assert.match(body.error.message, /try again in \d+ s/);

  // The real client says so, exits 4 (try later) and registers nothing.
  const blocked = await register(site, `${site.root}/client-a`, [
    "--password-file",
    passwordFile,
    relayUrl,
  ]);
  assert.equal(blocked.code, 4, blocked.stderr);
  assert.match(blocked.stderr, /too many failed key exchanges came from this address/);
  assert.match(blocked.stderr, /nothing was registered/);
  assert.equal((await listComputers(site)).length, before);
  assert.match(relay.stderr, /key exchange failed reason="?wrong"? source="?127\.0\.0\.1"?/);
  assert.ok(!relay.stderr.includes(RELAY_SHARED_PASSWORD), "the relay logged its password");
});

Deno.test("a plain relay below an authenticating one gives a client its parent's refusal at once, so it does the key exchange and nothing more is lost", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const passwordFile = await relayPasswordFile(site);
  const upperPort = freePort();
  await using _upper = await startRelay(`${site.root}/upper`, upperPort, site.serverPort, [
    "--authenticating",
    "--password-file",
    passwordFile,
  ]);
  const plainPort = freePort();
  const plainDir = `${site.root}/plain`;
  const plainUrl = `http://127.0.0.1:${plainPort}`;
  await using _plain = await startRelay(plainDir, plainPort, upperPort);
  const clientDir = `${site.root}/client`;
  // A client that registered straight with the server, before it sat behind these relays.
  const direct = await clientReport(site, clientDir, site.serverPort);
  assert.equal(direct.code, 0, direct.stderr);
  const status = await clientStatus(clientDir);
  const cid = status.computerId as number;

  // The plain relay takes its next report (202), then the authenticating one refuses it.
  const taken = await clientReport(site, clientDir, plainPort);
  assert.equal(taken.code, 0, taken.stderr);
  await eventually(async () => {
    try {
      const names = await Array.fromAsync(Deno.readDir(`${plainDir}/rejected`));
      return names.some((entry) => entry.name.endsWith(".reason")) ? true : undefined;
    } catch {
      return undefined;
    }
  }, "the refused report in the plain relay's rejected/ folder");

  // From then on the client hears the refusal at once, keeps its report, and is told what to do.
  const told = await clientReport(site, clientDir, plainPort);
  assert.equal(told.code, 1, told.stderr);
  assert.match(told.stderr, /not completed the manual key exchange/);
  assert.ok(told.stderr.includes(`mle-client register --password … --data-dir ${clientDir}`));
  assert.ok(told.stderr.includes(plainUrl), told.stderr);

  // The key exchange through the plain relay: admitted upstream, and its reports flow again.
  const registered = await register(site, clientDir, ["--password-file", passwordFile, plainUrl]);
  assert.equal(registered.code, 0, registered.stderr);
  assert.equal(Number(registered.stdout.trim()), cid);
  const after = await clientReport(site, clientDir, plainPort);
  assert.equal(after.code, 0, after.stderr);
  const stored = await eventually(async () => {
    const reports = await storedReports(site, cid);
    return reports.length >= 3 ? reports : undefined;
  }, "the held report and the new one at the server");
  // The first, the held one and the last; only the one taken in vain stays in rejected/.
  assert.equal(stored.length, 3);
});

Deno.test("chained authenticating relays that share a password admit a client all the way up; with another password above, the client is told where the chain broke", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const passwordFile = await relayPasswordFile(site);
  const otherFile = await secretFile(`${site.root}/other-password`, "another relay's password\n");
  const oneTimeFile = await secretFile(`${site.root}/one-time.txt`, "lower-only-once\n");
  const upperPort = freePort();
  await using upstream = new RecordingProxy(site.serverPort);
  await using upper = await startRelay(`${site.root}/upper`, upperPort, upstream.port, [
    "--authenticating",
    "--password-file",
    passwordFile,
  ]);
  const lowerPort = freePort();
  const lowerUrl = `http://127.0.0.1:${lowerPort}`;
  await using lower = await startRelay(`${site.root}/lower`, lowerPort, upperPort, [
    "--authenticating",
    "--password-file",
    passwordFile,
    "--one-time-passwords",
    oneTimeFile,
  ]);
  const clientDir = `${site.root}/client`;
  const registered = await register(site, clientDir, ["--password-file", passwordFile, lowerUrl]);
  assert.equal(registered.code, 0, registered.stderr);
  const cid = Number(registered.stdout.trim());
  assert.match(upper.stderr, new RegExp(`client admitted cid=${cid} by="shared password"`));
  assert.match(lower.stderr, new RegExp(`client admitted cid=${cid} by="shared password"`));
  assert.ok(!upstream.text.includes("keyExchange"), "the proof went on to the server");
  const report = await clientReport(site, clientDir, lowerPort);
  assert.equal(report.code, 0, report.stderr);
  await eventually(async () => {
    return (await storedReports(site, cid)).length === 1 ? true : undefined;
  }, "the report through both relays at the server");

  // The lower relay's one-time password is not one of the upper relay's: refused above, the
  // client is told so, and nothing is registered.
  const refused = await registersNothing(
    site,
    () => register(site, `${site.root}/client-b`, ["--password", "lower-only-once", lowerUrl]),
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /the authenticating relay above it refused it/);
  const mismatch = await registersNothing(
    site,
    () => registerThroughRelayBelow(site, "other", upperPort, otherFile),
  );
  assert.equal(mismatch.code, 1, mismatch.stderr);
  assert.match(mismatch.stderr, /ask their operators to give them the same one/);
});

Deno.test("an authenticating relay trusts the relay below by its key: a client admitted there with that relay's one-time password is admitted above too", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const upperPassword = await secretFile(`${site.root}/upper-password`, "the upper relay's own\n");
  const lowerPassword = await relayPasswordFile(site, "lower-password");
  const oneTimeFile = await secretFile(`${site.root}/one-time.txt`, "lower-one-time-password\n");
  const lowerDir = `${site.root}/lower`;
  const lowerKey = await relayKeyOf(lowerDir);
  assert.match(lowerKey, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await relayKeyOf(lowerDir), lowerKey, "the same key every time");

  await using upper = await startUpperRelay(site, upperPassword, lowerKey);
  const upperPort = upper.port;
  const lowerPort = freePort();
  const lowerUrl = `http://127.0.0.1:${lowerPort}`;
  await using lower = await startRelay(lowerDir, lowerPort, upperPort, [
    "--authenticating",
    "--password-file",
    lowerPassword,
    "--one-time-passwords",
    oneTimeFile,
  ]);
  const clientDir = `${site.root}/client`;
  const registered = await register(site, clientDir, [
    "--password",
    "lower-one-time-password",
    lowerUrl,
  ]);
  assert.equal(registered.code, 0, registered.stderr);
  const cid = Number(registered.stdout.trim());
  assert.match(lower.stderr, new RegExp(`client admitted cid=${cid} by="one-time password"`));
  assert.match(upper.stderr, new RegExp(`client admitted cid=${cid} by="trusted relay"`));
  const report = await clientReport(site, clientDir, lowerPort);
  assert.equal(report.code, 0, report.stderr);
  await eventually(async () => {
    return (await storedReports(site, cid)).length === 1 ? true : undefined;
  }, "the report through both relays at the server");

  // The one-time password is spent; and a relay the upper one does not trust vouches in vain.
  const spent = await register(site, `${site.root}/client-b`, [
    "--password",
    "lower-one-time-password",
    lowerUrl,
  ]);
  assert.equal(spent.code, 1, spent.stderr);
  assert.match(spent.stderr, /already used/);
  const refused = await registerThroughRelayBelow(site, "stranger", upperPort, lowerPassword);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /the authenticating relay above it refused it/);
  assert.equal((await listComputers(site)).length, 1);
});

Deno.test("one-time passwords admit one client each, once, even when two race, and across a relay restart", async () => {
  const site = await createSite();
  const server = await startServer(site);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  const passwords = [
    "otp-first-3f9a1c77d2e54b08",
    "otp-second-8b1e6d2a4c9f0e31",
    "otp-race-5d7c2e9a1b3f4a66",
  ];
  const oneTimeFile = await secretFile(
    `${site.root}/one-time.txt`,
    `# one a line\n${passwords.join("\n")}\n`,
  );
  const passwordFiles = await Promise.all(
    passwords.map((password, i) => secretFile(`${site.root}/otp-${i}`, password)),
  );
  const relayArgs = ["--authenticating", "--one-time-passwords", oneTimeFile];
  /** Registers the client `name` at the relay with the one-time password of `passwordFiles[i]`. */
  const registerWith = (name: string, i: number) =>
    register(site, `${site.root}/${name}`, ["--password-file", passwordFiles[i], relayUrl]);
  const started: RoleProcess[] = [
    await startRelay(relayDir, relayPort, site.serverPort, relayArgs),
  ];
  try {
    const first = await registerWith("a", 0);
    assert.equal(first.code, 0, first.stderr);

    const reused = await registerWith("b", 0);
    assert.equal(reused.code, 1, reused.stderr);
    assert.match(reused.stderr, /already used/);
    const second = await registerWith("b", 1);
    assert.equal(second.code, 0, second.stderr);

    // Two clients racing with the same one-time password: exactly one wins.
    const race = await Promise.all(["c", "d"].map((name) => registerWith(name, 2)));
    assert.deepEqual(race.map((r) => r.code).sort(), [0, 1], race.map((r) => r.stderr).join("\n"));
    assert.equal((await listComputers(site)).length, 3);

    // No password anywhere in the relay's data dir or log.
    const usedMarkers = [...Deno.readDirSync(`${relayDir}/key-exchange/used`)];
    assert.equal(usedMarkers.length, 3);
    for (const entry of Deno.readDirSync(relayDir)) {
      if (!entry.isFile) continue;
      const text = await Deno.readTextFile(`${relayDir}/${entry.name}`);
      for (const password of passwords) assert.ok(!text.includes(password), entry.name);
    }
    for (const password of passwords) assert.ok(!started[0].stderr.includes(password));

    // A restart forgets neither the admitted clients nor the used passwords.
    await started.pop()!.stop();
    started.push(await startRelay(relayDir, relayPort, site.serverPort, relayArgs));
    const afterRestart = await clientReport(site, `${site.root}/a`, relayPort);
    assert.equal(afterRestart.code, 0, afterRestart.stderr);
    const reusedAfterRestart = await registerWith("e", 1);
    assert.equal(reusedAfterRestart.code, 1, reusedAfterRestart.stderr);
    assert.match(reusedAfterRestart.stderr, /already used/);
  } finally {
    await stopAll(started);
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
});

Deno.test("revocation reaches relays within their interval: both refuse the revoked client, an older list never replaces a newer one, and a restart remembers", async () => {
  const site = await createSite();
  const server = await startServer(site);
  const authPort = freePort();
  const plainPort = freePort();
  const authDir = `${site.root}/relay-auth`;
  const plainDir = `${site.root}/relay-plain`;
  const authUrl = `http://127.0.0.1:${authPort}`;
  const passwordFile = await secretFile(`${site.root}/relay-password`, RELAY_SHARED_PASSWORD);
  const authArgs = [
    "--authenticating",
    "--password-file",
    passwordFile,
    "--revocation-interval",
    "1",
  ];
  const started: RoleProcess[] = [
    await startRelay(authDir, authPort, site.serverPort, authArgs),
    await startRelay(plainDir, plainPort, site.serverPort, [
      "--revocation-interval",
      "1",
      "--masthead",
      site.masthead,
    ]),
  ];
  try {
    const authClient = `${site.root}/behind-auth`;
    const registered = await register(site, authClient, ["--password-file", passwordFile, authUrl]);
    assert.equal(registered.code, 0, registered.stderr);
    const authId = Number(registered.stdout.trim());
    assert.equal((await clientReport(site, authClient, authPort)).code, 0);
    const plainClient = `${site.root}/behind-plain`;
    const plainFirst = await clientReport(site, plainClient, plainPort);
    assert.equal(plainFirst.code, 0, plainFirst.stderr);
    const plainId = (await clientStatus(plainClient)).computerId as number;
    await eventually(
      async () => (await storedReports(site, plainId)).length >= 1 || undefined,
      "the plain relay's first report stored",
    );

    // Revoke both with the admin tool: a new signed list on the server.
    await admin([
      "computers",
      "revoke",
      String(authId),
      String(plainId),
      "--site-key",
      site.siteKey,
      "--data-dir",
      site.serverDir,
    ]);
    // Each relay reads the list every second here (60 s by default): 15 s is a few of its
    // intervals on a loaded machine, and far short of the default.
    for (const relay of started) {
      await relay.waitFor(/revocation list updated revoked=2/, 15_000);
    }

    const authRefused = await clientReport(site, authClient, authPort);
    assert.equal(authRefused.code, 1, authRefused.stderr);
    assert.match(authRefused.stderr, /it is revoked on this site.*rotate-keys --compromised/);
    const plainRefused = await clientReport(site, plainClient, plainPort);
    assert.equal(plainRefused.code, 1, plainRefused.stderr);
    assert.match(plainRefused.stderr, /it is revoked on this site/);
    assert.deepEqual(await spooled(plainDir), [], "the plain relay spooled a revoked report");
    assert.match(started[0].stderr, /report refused: revoked cid=/);

    // A registration by the revoked key is refused too.
    const again = await register(site, authClient, ["--password-file", passwordFile, authUrl]);
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /revoked/);

    // The relays serve the newest verified list to their children.
    const served = await (await fetch(`${authUrl}${API.revocations}`)).text();
    const newest = await openStore(site.serverDir).getDocument("revocations");
    assert.equal(served, JSON.stringify(JSON.parse(newest!)));

    // An older list, properly signed, put on the server: the relays keep the newer one.
    const siteKey = await openSiteKeyFile(site.siteKey, TEST_PASSWORD);
    const older = await signRevocations(siteKey.privateKey, { revoked: [], issuedAt: 1 });
    const store = openStore(site.serverDir);
    try {
      await store.putDocument("revocations", JSON.stringify(older));
    } finally {
      store.close();
    }
    await started[0].waitFor(/ignored a revocation list older than the one held/, 5_000);
    const stillRefused = await clientReport(site, authClient, authPort);
    assert.equal(stillRefused.code, 1, stillRefused.stderr);
    assert.equal(await (await fetch(`${authUrl}${API.revocations}`)).text(), served);

    // A restart with the server away: the persisted list still refuses the revoked client.
    await server.stop();
    await started.shift()!.stop();
    started.unshift(await startRelay(authDir, authPort, site.serverPort, authArgs));
    const afterRestart = await clientReport(site, authClient, authPort);
    assert.equal(afterRestart.code, 1, afterRestart.stderr);
    assert.match(afterRestart.stderr, /it is revoked on this site/);
  } finally {
    await stopAll(started);
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
});

Deno.test("mle-relay and mle-client explain the key-exchange flags and refuse their misuse", async () => {
  const root = await Deno.makeTempDir({ prefix: "mle-test-" });
  try {
    const relayHelp = await runRole("relay", ["run", "--help"]);
    assert.equal(relayHelp.code, 0);
    for (
      const flag of [
        "--authenticating",
        "--password-file",
        "--one-time-passwords",
        "--revocation-interval",
        "--masthead",
        "--trust-relay",
      ]
    ) {
      assert.ok(relayHelp.stdout.includes(flag), flag);
    }
    const keyHelp = await runRole("relay", ["key", "--help"]);
    assert.equal(keyHelp.code, 0);
    assert.match(keyHelp.stdout, /--trust-relay KEY/);
    const clientHelp = await runRole("client", ["--help"]);
    assert.equal(clientHelp.code, 0);
    assert.match(clientHelp.stdout, /register \[RELAY_URL\]/);
    assert.match(clientHelp.stdout, /-register PASSWORD RELAY_URL/);

    const parent = [
      "--parent",
      "http://127.0.0.1:9",
      "--data-dir",
      `${root}/relay`,
      "--listen",
      "127.0.0.1:0",
    ];
    const cases: Array<[string, string[], RegExp]> = [
      [
        "password file without --authenticating",
        ["--password-file", "x"],
        /without --authenticating/,
      ],
      [
        "one-time passwords without --authenticating",
        ["--one-time-passwords", "x"],
        /without --authenticating/,
      ],
      ["interval 0", ["--revocation-interval", "0"], /--revocation-interval "0"/],
      ["interval not a number", ["--revocation-interval", "soon"], /--revocation-interval "soon"/],
      ["no password at all", ["--authenticating"], /without a password/],
      [
        "trusted relay without --authenticating",
        ["--trust-relay", "A".repeat(43)],
        /--trust-relay without --authenticating/,
      ],
      [
        "trusted relay that is not a key",
        ["--authenticating", "--password-file", "x", "--trust-relay", "relay-2"],
        /--trust-relay "relay-2": expected a relay's public key/,
      ],
    ];
    for (const [label, args, message] of cases) {
      const result = await runRole("relay", ["run", ...parent, ...args]);
      assert.equal(result.code, 2, `${label}: ${result.stderr}`);
      assert.match(result.stderr, message, label);
      assert.match(result.stderr, /mle-relay: hint: /, label);
    }
    const readable = `${root}/readable-password`;
    await Deno.writeTextFile(readable, "password\n");
    await Deno.chmod(readable, 0o644);
    const insecure = await runRole("relay", [
      "run",
      ...parent,
      "--authenticating",
      "--password-file",
      readable,
    ]);
    assert.equal(insecure.code, 2, insecure.stderr);
    assert.match(insecure.stderr, /others can access it .*chmod 600/);

    const clientCases: Array<[string, string[], RegExp]> = [
      ["-register without a password", ["-register"], /without the relay's password/],
      ["two relay URLs", [
        "register",
        "--password-file",
        readable,
        "http://127.0.0.1:9",
        "http://127.0.0.1:10",
      ], /unexpected argument/],
      [
        "a URL that is not http",
        ["register", "--password-file", readable, "ftp://127.0.0.1:9"],
        /Cannot use URL/,
      ],
      ["URL and another --parent", [
        "register",
        "--password-file",
        readable,
        "--parent",
        "http://127.0.0.1:10",
        "http://127.0.0.1:9",
      ], /two relays/],
      ["no password and no terminal", ["register", "http://127.0.0.1:9"], /no terminal/],
    ];
    for (const [label, args, message] of clientCases) {
      const result = await runRole("client", [...args, "--data-dir", `${root}/client`]);
      assert.equal(result.code, 2, `${label}: ${result.stderr}`);
      assert.match(result.stderr, message, label);
    }
    const noMasthead = await runRole("client", [
      "register",
      "--password-file",
      await secretFile(`${root}/owner-only-password`, "password\n"),
      "http://127.0.0.1:9",
      "--data-dir",
      `${root}/client`,
    ]);
    assert.equal(noMasthead.code, 1, noMasthead.stderr);
    assert.match(noMasthead.stderr, /masthead/, "the masthead is needed first");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
