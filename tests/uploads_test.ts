/**
 * The Upload Manager with real processes on 127.0.0.1: client → relay → server, recorded wires,
 * SIGKILLed processes, a full relay buffer, quotas, hostile names, and chunks crafted by hand.
 */

import assert from "node:assert/strict";
import { deriveChunkKey, sealChunk, signClearChunk } from "../envelope/upload_chunk.ts";
import { sealUploadManifest, signUploadManifest } from "../envelope/upload_manifest.ts";
import { readClientKey } from "../keystore/key_storage.ts";
import { API } from "../protocol/paths.ts";
import {
  admin,
  clientConnectionArgs,
  clientReport,
  clientStatus,
  clientUpload,
  computerIdOf,
  createSite,
  createSiteWithKey,
  createSiteWithRelayKey,
  deployKey,
  freePort,
  RecordingProxy,
  registerByReport,
  registeredSender,
  setSettings,
  startRecordedRelay,
  startRelay,
  startServer,
  type TestSite,
} from "./deployment.ts";
import { containsCanary, randomCanary, readTree } from "./recording_proxy.ts";
import { RoleProcess, type RoleResult, runRole } from "./run_role.ts";
import { TamperingProxy } from "./tampering_proxy.ts";
import { uploadManifestOf } from "./signed_upload.ts";
import { eventually } from "./eventually.ts";

const encoder = new TextEncoder();

/** Writes a file of `size` bytes: random bytes with `canary` every 4 KiB. */
async function writeTestFile(
  path: string,
  size: number,
  canary = "",
): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    bytes.set(crypto.getRandomValues(new Uint8Array(Math.min(65536, size - i))), i);
  }
  const mark = encoder.encode(canary);
  if (mark.length > 0) {
    for (let i = 0; i + mark.length <= size; i += 4096) bytes.set(mark, i);
  }
  await Deno.writeFile(path, bytes);
  return bytes;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
}

function connection(site: TestSite, clientDir: string, port: number, level: string): string[] {
  return [...clientConnectionArgs(site, clientDir, port), "--encryption", level];
}

async function upload(
  site: TestSite,
  clientDir: string,
  port: number,
  file: string,
  extra: string[] = [],
  level = "required",
): Promise<RoleResult> {
  return await clientUpload(site, clientDir, port, file, [...extra, "--encryption", level]);
}

interface ListedUpload {
  computerId: number;
  uploadId: string;
  declaredName: string;
  storedName: string | null;
  size: number;
  sha256: string;
  state: string;
  encrypted: boolean;
  error: string | null;
  path: string | null;
}

async function listUploads(site: TestSite): Promise<ListedUpload[]> {
  const result = await admin(["uploads", "list", "--json", "--data-dir", site.serverDir]);
  return JSON.parse(result.stdout);
}

async function folderBytes(path: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) total += await folderBytes(full);
      else if (entry.isFile) total += (await Deno.lstat(full)).size;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return total;
}

async function uploadProgress(
  clientDir: string,
): Promise<{ acknowledged: number; uid: string | null }> {
  const status = await clientStatus(clientDir);
  const uploads = status.uploads as Array<{ acknowledged: number; uploadId: string | null }>;
  return { acknowledged: uploads[0]?.acknowledged ?? 0, uid: uploads[0]?.uploadId ?? null };
}

/** Waits until the client's upload has at least `chunks` chunks acknowledged; its progress. */
async function waitForAcknowledged(
  clientDir: string,
  chunks: number,
): Promise<{ acknowledged: number; uid: string | null }> {
  return await eventually(async () => {
    const progress = await uploadProgress(clientDir);
    return progress.acknowledged >= chunks ? progress : undefined;
  }, `${chunks} chunks acknowledged`);
}

Deno.test("an upload crosses client → relay → server encrypted: stored as sent, its SHA-256 checked, the canary on no wire and not in the relay's folder", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site);
  const relayDir = `${site.root}/relay`;
  await using recorded = await startRecordedRelay(relayDir, site.serverPort);
  const { upstream, downstream } = recorded;
  const clientDir = `${site.root}/client`;
  const canary = randomCanary("upload");
  const file = `${site.root}/secret-report.bin`;
  const bytes = await writeTestFile(file, 600_000, canary);
  const result = await upload(site, clientDir, downstream.port, file);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout.trim(), /^\d{13}-[0-9a-f]{8}$/);

  const [stored] = await listUploads(site);
  assert.equal(stored.state, "complete");
  assert.equal(stored.encrypted, true);
  assert.equal(stored.storedName, "secret-report.bin");
  assert.equal(stored.sha256, await sha256Hex(bytes));
  const cid = await computerIdOf(clientDir);
  assert.equal(stored.path, `${site.serverDir}/uploads/${cid}/secret-report.bin`);
  assert.deepEqual(await Deno.readFile(stored.path!), bytes);
  assert.equal((await Deno.lstat(stored.path!)).mode! & 0o777, 0o600);

  const status = await clientStatus(clientDir);
  const [view] = status.uploads as Array<{ state: string; percent: number; encrypted: boolean }>;
  assert.equal(view.state, "complete");
  assert.equal(view.percent, 100);
  assert.equal(view.encrypted, true);

  assert.ok(downstream.text.includes(API.uploads), "the upload went through the relay");
  assert.ok(!containsCanary(downstream.text, canary), "canary seen on the client → relay wire");
  assert.ok(!containsCanary(upstream.text, canary), "canary seen on the relay → server wire");
  assert.ok(!containsCanary(await readTree(relayDir), canary), "canary in the relay's folders");
  assert.ok(!downstream.text.includes("secret-report"), "the file name travelled in clear");
});

Deno.test("a decrypting relay, though it holds the site's key, passes an upload through encrypted: stored, and the file's bytes in clear on no wire and not on its disk", async () => {
  // The seed's order: a key generated without deploying, copied to the relay, then deployed.
  await using site = await createSiteWithRelayKey();
  const { relayDir, kid } = site;
  await using _server = await startServer(site);
  await using recorded = await startRecordedRelay(relayDir, site.serverPort, ["--decrypt"]);
  const { relay, upstream, downstream } = recorded;
  const clientDir = `${site.root}/client`;
  await relay.waitFor(/registered as computer \d+/);
  await deployKey(site);
  await eventually(async () => {
    const answer = await fetch(`http://127.0.0.1:${site.serverPort}${API.encryptionCertificate}`);
    await answer.body?.cancel();
    return answer.status === 200 ? true : undefined;
  }, "the server to serve the deployed key's certificate");
  const canary = randomCanary("decrypting");
  const file = `${site.root}/crash.dmp`;
  const bytes = await writeTestFile(file, 400_000, canary);
  const result = await upload(site, clientDir, downstream.port, file);
  assert.equal(result.code, 0, result.stderr);
  const [stored] = await listUploads(site);
  assert.equal(stored.state, "complete");
  assert.equal(stored.encrypted, true);
  assert.equal(stored.sha256, await sha256Hex(bytes));
  assert.deepEqual(await Deno.readFile(stored.path!), bytes);
  assert.match(relay.stderr, new RegExp(`encryption key loaded kid=${kid}`));
  assert.ok(upstream.text.includes(API.uploads), "the upload went up through the relay");
  assert.ok(!containsCanary(downstream.text, canary), "canary on the client → relay wire");
  assert.ok(!containsCanary(upstream.text, canary), "canary on the relay → server wire");
  assert.ok(!containsCanary(await readTree(relayDir), canary), "canary in the relay's folders");
});

/** The size of the largest chunk segment file in a relay's buffer folder (0: none). */
async function largestSegmentBytes(bufferDir: string): Promise<number> {
  let largest = 0;
  try {
    for await (const folder of Deno.readDir(bufferDir)) {
      if (!folder.isDirectory) continue;
      for await (const entry of Deno.readDir(`${bufferDir}/${folder.name}`)) {
        if (!entry.name.endsWith(".segment")) continue;
        const info = await Deno.lstat(`${bufferDir}/${folder.name}/${entry.name}`);
        largest = Math.max(largest, info.size);
      }
    }
  } catch (error) {
    // A folder or segment that went while it was being read holds nothing any more.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return largest;
}

Deno.test("with the server up, a relay passes each chunk straight on: the server's answer with 200, and no chunk data ever in its buffer folder", async () => {
  await using site = await createSiteWithKey();
  await setSettings(site, "all", ["_BESClient_UploadManager_ChunkSize=4096"]);
  await using _server = await startServer(site);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  await using _relay = await startRelay(relayDir, relayPort, site.serverPort);
  await using downstream = new RecordingProxy(relayPort);
  const clientDir = `${site.root}/client`;
  const report = await clientReport(site, clientDir, downstream.port, [
    "--encryption",
    "required",
  ]);
  assert.equal(report.code, 0, report.stderr);
  const file = `${site.root}/straight.bin`;
  const chunkCount = 128;
  const bytes = await writeTestFile(file, chunkCount * 4096);
  downstream.clear();

  let sent = false;
  const sending = upload(site, clientDir, downstream.port, file).finally(() => sent = true);
  let largest = 0;
  let samples = 0;
  while (!sent) {
    largest = Math.max(largest, await largestSegmentBytes(`${relayDir}/uploads`));
    samples++;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const result = await sending;
  assert.equal(result.code, 0, result.stderr);

  const [stored] = await listUploads(site);
  assert.equal(stored.state, "complete");
  assert.deepEqual(await Deno.readFile(stored.path!), bytes);
  assert.ok(samples > 0);
  assert.equal(largest, 0, `a segment in the relay's buffer held ${largest} bytes`);
  assert.equal(await largestSegmentBytes(`${relayDir}/uploads`), 0);
  // Every chunk was answered by the server through the relay, none by the relay's buffer.
  const wire = downstream.text;
  assert.equal(wire.match(/"result":"buffered"/g)?.length ?? 0, 0, "chunks were buffered");
  assert.equal(wire.match(/HTTP\/1\.1 202 /g)?.length ?? 0, 0, "chunks were answered 202");
  assert.equal(wire.match(/"result":"stored"/g)?.length, chunkCount);
});

Deno.test("required with no certificate sends no byte of the file, not even its manifest, and says why", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  await using proxy = new RecordingProxy(site.serverPort);
  const file = `${site.root}/held.bin`;
  await writeTestFile(file, 10_000);
  const result = await upload(site, `${site.root}/client`, proxy.port, file, ["--timeout", "5"]);
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, /encryption is required/);
  assert.ok(!proxy.text.includes(API.uploads), "an upload request was sent");
  assert.deepEqual(await listUploads(site), []);
});

Deno.test("hostile names are rewritten inside the computer's folder, and a planted link is never followed", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const clientDir = `${site.root}/client`;
  const cid = await registerByReport(site, clientDir, site.serverPort, ["--encryption", "none"]);
  const folder = `${site.serverDir}/uploads/${cid}`;
  await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  const outside = `${site.root}/outside.txt`;
  await Deno.writeTextFile(outside, "original");
  await Deno.symlink(outside, `${folder}/planted.txt`);

  const file = `${site.root}/payload.txt`;
  await Deno.writeTextFile(file, "payload written by the client");
  const cases: Array<[string, string]> = [
    ["../../escape.txt", "_.._escape.txt"],
    ["/etc/passwd", "_etc_passwd"],
    ["CON", "_CON"],
    ["..\\..\\win.ini", "_.._win.ini"],
    ["planted.txt", "planted (2).txt"],
  ];
  for (const [name, expected] of cases) {
    const result = await upload(site, clientDir, site.serverPort, file, ["--name", name], "none");
    assert.equal(result.code, 0, `${name}: ${result.stderr}`);
    const listed = (await listUploads(site)).find((u) => u.declaredName === name);
    assert.equal(listed?.storedName, expected, name);
    assert.equal(listed?.encrypted, false);
    assert.equal(
      await Deno.readTextFile(`${folder}/${expected}`),
      "payload written by the client",
    );
  }
  const long = `${"x".repeat(300)}.log`;
  const result = await upload(site, clientDir, site.serverPort, file, ["--name", long], "none");
  assert.equal(result.code, 0, result.stderr);
  const stored = (await listUploads(site)).find((u) => u.declaredName === long)!;
  assert.ok(stored.storedName!.length <= 200 && stored.storedName!.endsWith(".log"));

  assert.equal(await Deno.readTextFile(outside), "original", "the planted link was followed");
  for (
    const escaped of [
      `${site.root}/escape.txt`,
      `${site.serverDir}/escape.txt`,
      `${site.serverDir}/uploads/escape.txt`,
    ]
  ) {
    await assert.rejects(Deno.lstat(escaped), Deno.errors.NotFound);
  }
  const names = (await Array.fromAsync(Deno.readDir(folder))).map((entry) => entry.name).sort();
  assert.equal(names.length, 7);
});

Deno.test("the server refuses tampered, reordered and cut chunks, ignores a duplicate, and stores nothing incomplete", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site);
  const clientDir = `${site.root}/client`;
  const sender = await registeredSender(site, clientDir, site.serverPort);
  const { cid, privateKey } = sender;
  const base = `http://127.0.0.1:${site.serverPort}${API.uploads}`;
  const cs = 1024;
  const plain = crypto.getRandomValues(new Uint8Array(2500));
  const uid = crypto.getRandomValues(new Uint8Array(16)).toHex();
  const manifest = await uploadManifestOf(plain, { uid, cid, name: "crafted.bin", chunkSize: cs });
  const { message, fileKey } = await sealUploadManifest(
    sender.serverPublicKey,
    sender.kid,
    privateKey,
    { cid, uid, cs, cc: 3 },
    encoder.encode(JSON.stringify(manifest)),
  );
  const post = await fetch(base, { method: "POST", body: JSON.stringify(message) });
  assert.equal(post.status, 200, await post.clone().text());
  assert.deepEqual((await post.json()).missing, [[0, 3]]);

  const chunkKey = await deriveChunkKey(fileKey, uid);
  const seal = (index: number, final = index === 2) =>
    sealChunk(chunkKey, { cid, uid, index, final }, plain.slice(index * cs, (index + 1) * cs));
  const put = async (index: number, body: Uint8Array<ArrayBuffer>) => {
    const response = await fetch(`${base}/${cid}/${uid}/${index}`, { method: "PUT", body });
    return { status: response.status, json: await response.json() };
  };
  const sealed = [await seal(0), await seal(1), await seal(2)];
  const tampered = new Uint8Array(sealed[0]);
  tampered[10] ^= 1;
  const refusals: Array<[string, number, Uint8Array<ArrayBuffer>, string]> = [
    ["a tampered chunk", 0, tampered, "ERR_DECRYPTION_FAILED"],
    ["chunk 1 put at index 0 (reordered)", 0, sealed[1], "ERR_DECRYPTION_FAILED"],
    [
      "chunk 1 sealed as the final one (truncation)",
      1,
      await seal(1, true),
      "ERR_DECRYPTION_FAILED",
    ],
    ["the final chunk put at index 1", 1, sealed[2], "ERR_CHUNK_INVALID"],
    ["a cut chunk", 0, sealed[0].slice(0, 500), "ERR_CHUNK_INVALID"],
    ["an index past the end", 3, sealed[2], "ERR_CHUNK_INVALID"],
  ];
  for (const [label, index, body, code] of refusals) {
    const answer = await put(index, body);
    assert.equal(answer.status >= 400 && answer.status < 500, true, label);
    assert.equal(answer.json.error.code, code, label);
  }
  // The decryption failures say nothing about what was wrong.
  const opaque = await put(0, tampered);
  assert.equal(opaque.json.error.message, "Cannot decrypt upload data");

  // Dropped: without chunk 2 the file is never stored.
  assert.equal((await put(0, sealed[0])).json.result, "stored");
  assert.equal((await put(0, sealed[0])).json.result, "duplicate");
  assert.equal((await put(1, sealed[1])).json.received, 2);
  const status = await (await fetch(`${base}/${cid}/${uid}`)).json();
  assert.equal(status.state, "receiving");
  assert.deepEqual(status.missing, [[2, 3]]);
  assert.equal((await listUploads(site))[0].state, "receiving");
  await assert.rejects(
    Deno.lstat(`${site.serverDir}/uploads/${cid}/crafted.bin`),
    Deno.errors.NotFound,
  );

  const last = await put(2, sealed[2]);
  assert.equal(last.status, 200);
  assert.equal(last.json.state, "complete");
  assert.deepEqual(await Deno.readFile(`${site.serverDir}/uploads/${cid}/crafted.bin`), plain);

  // Another client's key cannot start an upload in this computer's name, nor sign clear chunks.
  const stranger = await crypto.subtle.generateKey("Ed25519", false, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const forged = await signUploadManifest(stranger.privateKey, {
    cid,
    uid: crypto.getRandomValues(new Uint8Array(16)).toHex(),
    cs,
    cc: 1,
  }, encoder.encode("{}"));
  const refused = await fetch(base, { method: "POST", body: JSON.stringify(forged) });
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.code, "ERR_SIGNATURE_INVALID");
  const other = "0".repeat(32);
  const unknown = await fetch(`${base}/${cid}/${other}/0`, {
    method: "PUT",
    body: await signClearChunk(privateKey, { cid, uid: other, index: 0, final: true }, plain),
  });
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.code, "ERR_UNKNOWN_UPLOAD");
});

Deno.test("an upload resumes from where it stood after the client, the relay and the server are each SIGKILLed once", async () => {
  const site = await createSiteWithKey();
  // Small chunks and a throttle make the upload last long enough to be interrupted three times:
  // 160 chunks at 16 a second, the last kill at 70 with more than five seconds left (each look at
  // the progress runs \`mle-client status\`, which takes a moment on a loaded machine).
  await setSettings(site, "all", [
    "_BESClient_UploadManager_ChunkSize=4096",
    "_BESClient_UploadManager_ThrottleKBPS=64",
  ]);
  let server = await startServer(site);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  let relay = await startRelay(relayDir, relayPort, site.serverPort);
  const clientDir = `${site.root}/client`;
  const args = connection(site, clientDir, relayPort, "required");
  const running: RoleProcess[] = [];
  try {
    await registerByReport(site, clientDir, relayPort, ["--encryption", "required"]);
    const file = `${site.root}/resume.bin`;
    const bytes = await writeTestFile(file, 640 * 1024);

    // 1. The client dies mid-upload.
    const first = new RoleProcess("client", ["upload", file, "--wait", ...args]);
    running.push(first);
    const { uid } = await waitForAcknowledged(clientDir, 20);
    await first.stop("SIGKILL");

    // 2. A report run resumes it; the relay dies mid-upload.
    const second = new RoleProcess("client", ["report", ...args]);
    running.push(second);
    await waitForAcknowledged(clientDir, 45);
    await relay.stop("SIGKILL");
    const secondStatus = await second.stop("SIGTERM");
    assert.notEqual(secondStatus.code, 0, "a run whose relay died cannot have finished");
    relay = await startRelay(relayDir, relayPort, site.serverPort);

    // 3. Another run resumes it; the server dies mid-upload.
    const third = new RoleProcess("client", ["report", ...args]);
    running.push(third);
    await waitForAcknowledged(clientDir, 70);
    await server.stop("SIGKILL");
    const [midway] = await listUploads(site);
    assert.equal(midway.state, "receiving", "the server was killed after the upload finished");
    server = await startServer(site);
    await third.stop("SIGTERM");

    // 4. Runs until the server has it (bounded).
    await eventually(
      async () => {
        const result = await runRole("client", ["report", ...args]);
        const [listed] = await listUploads(site);
        return listed?.state === "complete" ? result : undefined;
      },
      "the stored upload",
      90_000,
    );

    const uploads = await listUploads(site);
    assert.equal(uploads.length, 1, "the upload was restarted instead of resumed");
    assert.equal(uploads[0].uploadId, uid, "the upload id changed");
    assert.equal(uploads[0].sha256, await sha256Hex(bytes));
    assert.deepEqual(await Deno.readFile(uploads[0].path!), bytes);
    const status = await clientStatus(clientDir);
    assert.equal((status.uploads as Array<{ state: string }>)[0].state, "complete");
  } finally {
    for (const process of running) await process.stop("SIGKILL");
    await relay.stop();
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
});

Deno.test("a full relay buffer makes the client wait, never exceeds its size, and drains once the server is back", async () => {
  const site = await createSiteWithKey();
  await setSettings(site, "all", ["_BESClient_UploadManager_ChunkSize=4096"]);
  let server = await startServer(site);
  const relayPort = freePort();
  const relayDir = `${site.root}/relay`;
  const maxBytes = 64 * 1024;
  const relay = await startRelay(relayDir, relayPort, site.serverPort, [
    "--upload-buffer-max-size",
    "64K",
  ]);
  // Between the client and the relay: what the relay answered each chunk, on the wire.
  const toRelay = new TamperingProxy(relayPort);
  const clientDir = `${site.root}/client`;
  let client: RoleProcess | null = null;
  try {
    await registerByReport(site, clientDir, relayPort, ["--encryption", "required"]);
    await server.stop();
    const file = `${site.root}/big.bin`;
    const bytes = await writeTestFile(file, 256 * 1024);
    client = new RoleProcess("client", [
      "upload",
      file,
      "--wait",
      "--timeout",
      "90",
      ...connection(site, clientDir, toRelay.port, "required"),
    ]);
    const busyAnswers = () =>
      toRelay.answersTo("PUT", /^\/api\/v1\/uploads\//).filter((answer) =>
        answer.status === 503 && answer.errorCode === "ERR_RETRY_LATER" &&
        answer.retryAfter !== null
      ).length;
    // The client waits: told to retry later, it comes back with the same chunk (again refused
    // while the buffer is full) instead of giving up.
    let largest = 0;
    await eventually(async () => {
      largest = Math.max(largest, await folderBytes(`${relayDir}/uploads`));
      return busyAnswers() >= 3 || client!.exited !== null ? true : undefined;
    }, "the relay refusing three chunks with 503 ERR_RETRY_LATER and Retry-After");
    assert.equal(client.exited, null, `the client gave up:\n${client.stderr}`);
    largest = Math.max(largest, await folderBytes(`${relayDir}/uploads`));
    // Chunks are at most 4 KiB + tag; the manifest and state files add a little.
    assert.ok(largest >= maxBytes / 2, `the buffer holds only ${largest} bytes while refusing`);
    assert.ok(largest <= maxBytes + 16 * 1024, `the buffer holds ${largest} bytes`);

    server = await startServer(site);
    const status = await client.waitForExit(90_000);
    assert.equal(status.code, 0, client.stderr);
    const [stored] = await listUploads(site);
    assert.equal(stored.state, "complete");
    assert.deepEqual(await Deno.readFile(stored.path!), bytes);
    await eventually(
      async () => (await folderBytes(`${relayDir}/uploads`)) < 8192 ? true : undefined,
      "the relay buffer emptied",
    );
  } finally {
    await client?.stop("SIGKILL");
    await toRelay.close();
    await relay.stop();
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
});

Deno.test("per-computer and total quotas refuse an upload before any of its data is written", async () => {
  await using site = await createSiteWithKey();
  await using _server = await startServer(site, [
    "--upload-quota-per-computer",
    "300K",
    "--upload-quota-total",
    "500K",
  ]);
  const files = {
    a1: `${site.root}/a1.bin`,
    a2: `${site.root}/a2.bin`,
    b1: `${site.root}/b1.bin`,
    b2: `${site.root}/b2.bin`,
  };
  await writeTestFile(files.a1, 250 * 1024);
  await writeTestFile(files.a2, 100 * 1024);
  await writeTestFile(files.b1, 200 * 1024);
  await writeTestFile(files.b2, 100 * 1024);
  const a = `${site.root}/client-a`;
  const b = `${site.root}/client-b`;

  assert.equal((await upload(site, a, site.serverPort, files.a1)).code, 0);
  const overComputer = await upload(site, a, site.serverPort, files.a2);
  assert.equal(overComputer.code, 1, overComputer.stderr);
  assert.match(overComputer.stderr, /ERR_UPLOAD_QUOTA_EXCEEDED.*computer \d+'s upload quota/);

  const b1 = await upload(site, b, site.serverPort, files.b1);
  assert.equal(b1.code, 0, b1.stderr);
  const overTotal = await upload(site, b, site.serverPort, files.b2);
  assert.equal(overTotal.code, 1, overTotal.stderr);
  assert.match(overTotal.stderr, /total upload quota/);

  const uploads = await listUploads(site);
  assert.deepEqual(uploads.map((u) => [u.declaredName, u.state]), [
    ["a1.bin", "complete"],
    ["b1.bin", "complete"],
  ]);
  assert.deepEqual(
    await Array.fromAsync(Deno.readDir(`${site.serverDir}/uploads/.incoming`)),
    [],
  );
  const status = await clientStatus(a);
  const views = status.uploads as Array<
    { name: string; state: string; lastError: { message: string } }
  >;
  assert.equal(views[1].state, "failed");
  assert.match(views[1].lastError.message, /quota/);
});

Deno.test("quotas charge bytes received: a declared upload that sends nothing holds no quota, and a chunk past the quota is refused (413) before any of it is written", async () => {
  await using site = await createSite();
  await using _server = await startServer(site, ["--upload-quota-per-computer", "300K"]);
  const clientDir = `${site.root}/client`;
  const cid = await registerByReport(site, clientDir, site.serverPort);
  const key = await readClientKey(`${clientDir}/KeyStorage/client.pvk`);
  const base = `http://127.0.0.1:${site.serverPort}${API.uploads}`;

  // A clear-text upload of 250 KiB in 64 KiB chunks is declared, and nothing of it sent.
  const cs = 64 * 1024;
  const plain = await writeTestFile(`${site.root}/declared.bin`, 250 * 1024);
  const uid = crypto.getRandomValues(new Uint8Array(16)).toHex();
  const manifest = await uploadManifestOf(plain, { uid, cid, name: "declared.bin", chunkSize: cs });
  const message = await signUploadManifest(
    key.privateKey,
    { cid, uid, cs, cc: 4 },
    encoder.encode(JSON.stringify(manifest)),
  );
  const post = await fetch(base, { method: "POST", body: JSON.stringify(message) });
  assert.equal(post.status, 200, await post.clone().text());
  await post.body?.cancel();

  // Another upload of the same computer fits in what was received (nothing): 250 + 200 KiB
  // were declared, more than the quota, yet it is stored.
  const other = `${site.root}/other.bin`;
  await writeTestFile(other, 200 * 1024);
  const stored = await upload(site, clientDir, site.serverPort, other, [], "optional");
  assert.equal(stored.code, 0, stored.stderr);

  // Now the declared upload's chunks: the first fits (200 + 64 KiB), the second would not.
  const put = async (index: number) => {
    const body = await signClearChunk(
      key.privateKey,
      { cid, uid, index, final: index === 3 },
      plain.slice(index * cs, (index + 1) * cs),
    );
    const response = await fetch(`${base}/${cid}/${uid}/${index}`, { method: "PUT", body });
    return { status: response.status, json: await response.json() };
  };
  assert.equal((await put(0)).json.result, "stored");
  const refused = await put(1);
  assert.equal(refused.status, 413);
  assert.equal(refused.json.error.code, "ERR_UPLOAD_QUOTA_EXCEEDED");
  assert.match(refused.json.error.message, /computer \d+ past its upload quota of 307200 bytes/);
  assert.match(refused.json.error.message, /keep the upload and try again later/);
  assert.match(refused.json.error.message, /--upload-quota-per-computer/);

  // Nothing past the quota was written: the partial file holds chunk 0 alone, and the upload
  // stays, missing the rest.
  const partial = `${site.serverDir}/uploads/.incoming/${cid}-${uid}/data.part`;
  assert.equal((await Deno.stat(partial)).size, cs);
  const status = await (await fetch(`${base}/${cid}/${uid}`)).json();
  assert.deepEqual([status.state, status.received, status.missing], ["receiving", 1, [[1, 4]]]);
  assert.ok(
    (await folderBytes(`${site.serverDir}/uploads/${cid}`)) + cs <= 300 * 1024,
    "stored and received stay within the quota",
  );
});
