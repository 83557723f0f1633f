/**
 * Full disks, with real processes on 127.0.0.1: the server's database and upload folder and a
 * relay's spool on a small filesystem of their own, filled to the last byte. Every role answers 503
 * with `Retry-After` and `ERR_STORAGE_FULL` (never 500, never a crash), acknowledges nothing it could
 * not persist, keeps what it had, and resumes by itself once space returns; the SQLite database
 * passes `PRAGMA integrity_check` afterwards.
 *
 * The small filesystems are tmpfs mounts, which need root (CI runs as root). Where mounting is not
 * possible the tests are ignored, except under `CI=true`, where they fail instead.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { API } from "../protocol/paths.ts";
import { DATABASE_FILE } from "../store/mod.ts";
import {
  createSite,
  freePort,
  registerSender,
  startRelay,
  startServer,
  storedReports,
  type TestSender,
  type TestSite,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { missingChunks, type SignedUpload, signedUpload } from "./signed_upload.ts";
import type { RoleProcess } from "./run_role.ts";
import type { ServerProcess } from "./role_processes.ts";
import {
  canMountFilesystems,
  moveServerToSmallFilesystem,
  SmallFilesystem,
} from "./small_filesystem.ts";

const IN_CI = Deno.env.get("CI") === "true";
const SMALL_FILESYSTEM_BYTES = 24 << 20;

/**
 * Registers a test that mounts small filesystems: ignored where they cannot be mounted (only root
 * on Linux can), except under CI, where it must run.
 */
function smallFilesystemTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !canMountFilesystems() && !IN_CI, fn });
}

/** Posts a report; its status, `Retry-After` and error code. */
async function postReport(port: number, body: string) {
  const response = await fetch(`http://127.0.0.1:${port}${API.reports}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const answer = await response.json();
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    code: (answer?.error?.code ?? null) as string | null,
  };
}

/** Asserts a refusal is the storage-full one: 503, `Retry-After`, `ERR_STORAGE_FULL`. */
function assertStorageFull(
  answer: { status: number; retryAfter: string | null; code: string | null },
  what: string,
): void {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer)}`);
  assert.equal(answer.code, "ERR_STORAGE_FULL", what);
  assert.ok(Number(answer.retryAfter) >= 1, `${what}: Retry-After ${answer.retryAfter}`);
}

/**
 * Sends reports `from`, `from + 1`, … until one is refused (bounded); returns the accepted
 * sequence numbers and the refusal.
 */
async function reportUntilRefused(port: number, sender: TestSender, from: number, ok: number[]) {
  const accepted: number[] = [];
  for (let seq = from; seq < from + 5_000; seq++) {
    const answer = await postReport(port, await sender.report(seq, 2048));
    if (ok.includes(answer.status)) {
      accepted.push(seq);
      continue;
    }
    return { accepted, refusedSeq: seq, refusal: answer };
  }
  throw new Error("the full filesystem never refused a report");
}

/**
 * A site whose server data dir lives on a small filesystem of its own, its server running, and a
 * sender registered with it (while the disk has room). At the end of the scope holding it (`await
 * using`) the server stops, its database is checked whole, the filesystem is unmounted and the
 * site removed, in that order.
 */
async function serverOnSmallFilesystem(): Promise<
  & { site: TestSite; disk: SmallFilesystem; server: ServerProcess; sender: TestSender }
  & AsyncDisposable
> {
  await using teardown = new AsyncDisposableStack();
  const site = teardown.use(await createSite());
  const disk = await moveServerToSmallFilesystem(site, SMALL_FILESYSTEM_BYTES);
  teardown.defer(() => disk.unmount());
  teardown.defer(() => assertIntegrity(`${site.serverDir}/${DATABASE_FILE}`));
  const server = teardown.use(await startServer(site));
  const sender = await registerSender(site.serverPort);
  const owned = teardown.move();
  return { site, disk, server, sender, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/**
 * A site whose relay's data dir (spool and upload buffer) lives on a small filesystem of its own,
 * its server and the relay running, and a sender registered with the server. At the end of the
 * scope holding it (`await using`) the relay and the server stop, the filesystem is unmounted and
 * the site removed, in that order.
 */
async function relayOnSmallFilesystem(): Promise<
  {
    site: TestSite;
    disk: SmallFilesystem;
    server: ServerProcess;
    relayPort: number;
    relay: RoleProcess;
    sender: TestSender;
  } & AsyncDisposable
> {
  await using teardown = new AsyncDisposableStack();
  const site = teardown.use(await createSite());
  const disk = teardown.use(
    await SmallFilesystem.mount(`${site.root}/relay`, SMALL_FILESYSTEM_BYTES),
  );
  const server = teardown.use(await startServer(site));
  const relayPort = freePort();
  const relay = teardown.use(await startRelay(disk.path, relayPort, site.serverPort));
  const sender = await registerSender(site.serverPort);
  const owned = teardown.move();
  return {
    site,
    disk,
    server,
    relayPort,
    relay,
    sender,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

function assertIntegrity(databasePath: string): void {
  const db = new DatabaseSync(databasePath);
  try {
    const rows = db.prepare("PRAGMA integrity_check").all() as Array<Record<string, unknown>>;
    assert.deepEqual(rows.map((row) => Object.values(row)[0]), ["ok"]);
  } finally {
    db.close();
  }
}

function assertAlive(process: RoleProcess, what: string): void {
  // A crashed role has closed its output; a live one has not logged an internal failure.
  assert.doesNotMatch(process.stderr, /ERR_INTERNAL|request failed|unexpected failure/, what);
}

smallFilesystemTest(
  "a server whose disk is full answers reports and registrations 503 with Retry-After, stores nothing it did not acknowledge, and resumes when space returns",
  async () => {
    await using deployment = await serverOnSmallFilesystem();
    const { site, disk, server, sender } = deployment;
    assert.equal((await postReport(site.serverPort, await sender.report(1))).status, 200);
    await disk.fill();

    const { accepted, refusedSeq, refusal } = await reportUntilRefused(
      site.serverPort,
      sender,
      2,
      [200],
    );
    assertStorageFull(refusal, `report ${refusedSeq} on a full disk`);
    // A registration may still fit (SQLite reuses its log's pages): each one is answered either
    // 200, and then kept, or 503 ERR_STORAGE_FULL.
    const registeredOnFullDisk: TestSender[] = [];
    let registrationsRefused = 0;
    for (let i = 0; i < 20; i++) {
      await registerSender(site.serverPort).then(
        (registered) => registeredOnFullDisk.push(registered),
        (error: Error) => {
          assert.match(error.message, /ERR_STORAGE_FULL/);
          registrationsRefused++;
        },
      );
    }
    assert.ok(registrationsRefused > 0, "no registration was refused on the full disk");
    assertAlive(server, server.stderr);

    await disk.free();
    const again = await eventually(async () => {
      const answer = await postReport(site.serverPort, await sender.report(refusedSeq, 2048));
      return answer.status === 503 ? undefined : answer;
    }, "the server storing again once space returned");
    assert.equal(again.status, 200, JSON.stringify(again));
    await registerSender(site.serverPort);
    for (const registered of registeredOnFullDisk) {
      const answer = await postReport(site.serverPort, await registered.report(1));
      assert.equal(
        answer.status,
        200,
        `a computer registered on a full disk was lost: ${answer.code}`,
      );
    }
    assertAlive(server, server.stderr);

    const stored = (await storedReports(site, sender.computerId)).map((report) => report.seq);
    assert.deepEqual(stored.sort((a, b) => a - b), [1, ...accepted, refusedSeq]);
  },
);

smallFilesystemTest(
  "a relay whose spool disk is full answers 503 with Retry-After, keeps every report it accepted, and forwards them all once space returns",
  async () => {
    await using deployment = await relayOnSmallFilesystem();
    const { site, disk, server, relayPort, relay, sender } = deployment;
    await server.stop(); // the relay must keep what it accepts in its spool
    await disk.fill();
    const { accepted, refusedSeq, refusal } = await reportUntilRefused(
      relayPort,
      sender,
      1,
      [202],
    );
    assertStorageFull(refusal, `report ${refusedSeq} on a full spool disk`);
    assertAlive(relay, relay.stderr);

    // What it accepted survives a restart on the still-full disk.
    await relay.stop("SIGKILL");
    await using restartedRelay = await startRelay(disk.path, relayPort, site.serverPort);
    await disk.free();
    const again = await eventually(async () => {
      const answer = await postReport(relayPort, await sender.report(refusedSeq, 2048));
      return answer.status === 503 ? undefined : answer;
    }, "the relay spooling again once space returned");
    assert.equal(again.status, 202, JSON.stringify(again));

    await using _restarted = await startServer(site);
    const expected = [...accepted, refusedSeq];
    const stored = await eventually(
      async () => {
        const seqs = (await storedReports(site, sender.computerId)).map((r) => r.seq);
        return seqs.length >= expected.length ? seqs : undefined;
      },
      `${expected.length} reports forwarded`,
      60_000,
    );
    assert.deepEqual(stored.sort((a, b) => a - b), expected);
    assertAlive(restartedRelay, restartedRelay.stderr);
  },
);

const UPLOAD_CHUNK_BYTES = 256 << 10;

/** Random file contents of `size` bytes (random, so nothing compresses or dedups them). */
function randomFile(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65_536)));
  }
  return bytes;
}

/** Puts a chunk again until the disk has room (503s while it has none); the answer then. */
function putOnceSpaceReturns(upload: SignedUpload, index: number) {
  return eventually(async () => {
    const answer = await upload.putChunk(index);
    return answer.status === 503 ? undefined : answer;
  }, `chunk ${index} taken once space returned`);
}

/** Puts chunks `from`..end; the indexes acknowledged and those refused as storage-full. */
async function putUntilEnd(upload: SignedUpload, from: number, ok: number[], what: string) {
  const acknowledged: number[] = [];
  const refused: number[] = [];
  for (let index = from; index < upload.chunkCount; index++) {
    const answer = await upload.putChunk(index);
    if (ok.includes(answer.status)) acknowledged.push(index);
    else {
      assertStorageFull(answer, `${what}: chunk ${index}`);
      refused.push(index);
    }
  }
  return { acknowledged, refused };
}

/** The SHA-256 of a stored file, lowercase hex. */
async function sha256Of(path: string): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path))).toHex();
}

/**
 * An 8 MiB upload by `sender` through the role on `port` whose disk fills part way: its manifest
 * and first eight chunks are acknowledged on free disk (`acknowledged`: 200 at the server, 202 at
 * a relay), then the disk keeps less than a chunk and the rest is put, some of it refused as
 * storage-full; a late upload's manifest is refused too. Both uploads and the chunks refused.
 */
async function fillDiskDuringUpload(
  disk: SmallFilesystem,
  port: number,
  sender: TestSender,
  name: string,
  acknowledged: number,
  fullDisk: string,
) {
  const upload = await signedUpload(port, sender, randomFile(8 << 20), {
    chunkSize: UPLOAD_CHUNK_BYTES,
    name,
  });
  assert.equal((await upload.postManifest()).status, 200);
  const before = await putUntilEnd({ ...upload, chunkCount: 8 }, 0, [acknowledged], "free disk");
  assert.deepEqual(before.refused, []);
  // Room for less than a chunk: the next chunk's write fails part way.
  await disk.fill({ leaveBytes: UPLOAD_CHUNK_BYTES / 2 });

  const during = await putUntilEnd(upload, 8, [acknowledged], fullDisk);
  assert.ok(during.refused.length > 0, "no chunk was refused on the full disk");
  const late = await signedUpload(port, sender, randomFile(100_000), {
    chunkSize: 65_536,
    name: "late.bin",
  });
  assertStorageFull(await late.postManifest(), `a manifest on a ${fullDisk}`);
  return { upload, refused: during.refused, late };
}

smallFilesystemTest(
  "a server whose upload folder's disk fills during an upload answers chunks and manifests 503 with Retry-After, acknowledges only the chunks it wrote, and completes the upload with its SHA-256 once space returns",
  async () => {
    await using deployment = await serverOnSmallFilesystem();
    const { site, disk, server, sender } = deployment;
    const { upload, refused, late } = await fillDiskDuringUpload(
      disk,
      site.serverPort,
      sender,
      "during.bin",
      200,
      "full disk",
    );
    assertAlive(server, server.stderr);

    // Every chunk acknowledged is held; every one refused is missing.
    const status = await upload.status();
    assert.ok(status, "no status on a full disk");
    assert.equal(status.state, "receiving");
    assert.deepEqual(missingChunks(status), refused);

    await disk.free();
    let last;
    for (const index of refused) last = await putOnceSpaceReturns(upload, index);
    assert.equal(last?.status, 200, JSON.stringify(last));
    assert.equal((await upload.status())?.state, "complete");
    assert.equal(
      await sha256Of(`${site.serverDir}/uploads/${sender.computerId}/during.bin`),
      upload.sha256,
    );

    // The manifest refused on the full disk is taken now, and its upload completes.
    assert.equal((await late.postManifest()).status, 200);
    for (let index = 0; index < late.chunkCount; index++) {
      assert.equal((await late.putChunk(index)).status, 200);
    }
    assert.equal(
      await sha256Of(`${site.serverDir}/uploads/${sender.computerId}/late.bin`),
      late.sha256,
    );
    assertAlive(server, server.stderr);
  },
);

smallFilesystemTest(
  "a relay whose upload buffer's disk fills during an upload answers chunks and manifests 503 with Retry-After, keeps every chunk it acknowledged through a kill -9, and the upload completes with its SHA-256 once space returns",
  async () => {
    await using deployment = await relayOnSmallFilesystem();
    const { site, disk, server, relayPort, relay, sender } = deployment;
    await server.stop(); // the relay must keep the upload in its buffer
    // The relay answers a manifest it buffered with the status it can give (200), chunks 202.
    const { upload, refused, late } = await fillDiskDuringUpload(
      disk,
      relayPort,
      sender,
      "buffered.bin",
      202,
      "full buffer disk",
    );
    assertAlive(relay, relay.stderr);

    // What it acknowledged survives a kill -9 on the still-full disk.
    await relay.stop("SIGKILL");
    await using restartedRelay = await startRelay(disk.path, relayPort, site.serverPort);
    await disk.free();
    for (const index of refused) {
      const answer = await putOnceSpaceReturns(upload, index);
      assert.equal(answer.status, 202, JSON.stringify(answer));
    }
    assert.equal((await late.postManifest()).status, 200);
    for (let index = 0; index < late.chunkCount; index++) {
      assert.equal((await late.putChunk(index)).status, 202);
    }

    await using _restartedServer = await startServer(site);
    for (const each of [upload, late]) {
      await eventually(
        async () => (await each.status(site.serverPort))?.state === "complete" || undefined,
        `upload ${each.uid} completed at the server`,
        60_000,
      );
    }
    const folder = `${site.serverDir}/uploads/${sender.computerId}`;
    assert.equal(await sha256Of(`${folder}/buffered.bin`), upload.sha256);
    assert.equal(await sha256Of(`${folder}/late.bin`), late.sha256);
    assertAlive(restartedRelay, restartedRelay.stderr);
  },
);
