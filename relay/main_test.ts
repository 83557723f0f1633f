/**
 * The relay as a real process, with exactly the permissions its executable has, between real
 * HTTP clients and a parent stand-in on 127.0.0.1.
 */

import assert from "node:assert/strict";
import { joinPath } from "../keystore/secure_file.ts";
import { MAX_REPORT_MESSAGE_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { RoleProcess, runRole } from "../tests/run_role.ts";
import { ParentStub } from "./_parent_stub.ts";
import { Spool } from "./spool.ts";
import { createMessageFactory } from "./_test_utils.ts";
import { waitUntil } from "../tests/eventually.ts";

const messages = await createMessageFactory();
const LISTENING = /listening on http:\/\/127\.0\.0\.1:(\d+)/;

interface RunningRelay {
  process: RoleProcess;
  url: string;
}

/** Starts `mle-relay run` on a free loopback port and waits until it listens. */
async function spawnRelay(
  dataDir: string,
  parentUrl: string,
  extra: string[] = [],
): Promise<RunningRelay> {
  const process = new RoleProcess("relay", [
    "run",
    "--parent",
    parentUrl,
    "--data-dir",
    dataDir,
    "--listen",
    "127.0.0.1:0",
    ...extra,
  ]);
  try {
    await process.waitFor(LISTENING);
  } catch (error) {
    await process.stop("SIGKILL");
    throw error;
  }
  return { process, url: `http://127.0.0.1:${LISTENING.exec(process.stderr)![1]}` };
}

/** What {@linkcode withSetup} gives a test. */
interface Setup {
  dataDir: string;
  stub: ParentStub;
  /** Starts a relay on the data dir with the stub as its parent, killed at the end if still running. */
  startRelay: (extra?: string[]) => Promise<RunningRelay>;
}

/** Runs `body` with a fresh data dir and a parent stub, cleaning both (and relays) up. */
async function withSetup(body: (setup: Setup) => Promise<void>): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-process-" });
  const stub = new ParentStub();
  const relays: RunningRelay[] = [];
  const startRelay = async (extra: string[] = []) => {
    const relay = await spawnRelay(dataDir, stub.url, extra);
    relays.push(relay);
    return relay;
  };
  try {
    await body({ dataDir, stub, startRelay });
  } finally {
    for (const relay of relays) await relay.process.stop("SIGKILL");
    await stub.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function post(url: string, body: BodyInit): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}${API.reports}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  return { status: response.status, body: await response.json() };
}

/** The ids of the reports waiting in a relay's spool on disk. */
async function spooled(dataDir: string): Promise<string[]> {
  return (await Spool.waitingIn(dataDir)).map((message) => message.id);
}

Deno.test("mle-relay --help prints usage to stdout and exits 0", async () => {
  for (const args of [["--help"], ["-h"], ["run", "--help"]]) {
    const result = await runRole("relay", args);
    assert.equal(result.code, 0, args.join(" "));
    assert.equal(result.stderr, "");
    for (const section of ["Usage: mle-relay", "Examples:", "Exit codes:"]) {
      assert.ok(result.stdout.includes(section), `${args.join(" ")}: ${section}`);
    }
  }
  const run = await runRole("relay", ["run", "--help"]);
  for (const flag of ["--parent", "--data-dir", "--listen", "--no-encrypted-reports"]) {
    assert.ok(run.stdout.includes(flag), flag);
  }
});

Deno.test("mle-relay misuse exits 2 with an error and a hint on stderr", async () => {
  const cases: [string[], RegExp][] = [
    [[], /Cannot run without a command/],
    [["serve"], /Cannot run unknown command "serve"/],
    [["run", "--data-dir", "/nonexistent"], /Cannot run without a parent/],
    [["run", "--parent", "ftp://server.example"], /Cannot use URL "ftp:\/\/server\.example"/],
    [["run", "--parent", "http://user:pw@server.example"], /without credentials/],
    [["run", "--parent", "not a url"], /Cannot use URL/],
    [["run", "--parent", "http://s:1", "--listen", "h:port"], /Cannot listen on "h:port"/],
    [["run", "--parent", "http://s:1", "--listen", "h:70000"], /Cannot listen on "h:70000"/],
    [["run", "--parent", "http://s:1", "--concurrency", "0"], /Cannot use --concurrency "0"/],
    [
      ["run", "--parent", "http://s:1", "--forward-batch-max", "513"],
      /Cannot use --forward-batch-max "513": expected an integer from 1 to 512/,
    ],
    [["run", "--parent", "http://s:1", "--log-level", "loud"], /Cannot use log level "loud"/],
    [["run", "--parent", "http://s:1", "--frobnicate"], /Unknown option "--frobnicate"/],
  ];
  for (const [args, message] of cases) {
    const result = await runRole("relay", args, { env: { MLE_RELAY_PARENT: "" } });
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stdout, "", args.join(" "));
    assert.match(result.stderr, /^mle-relay: error: /m, args.join(" "));
    assert.match(result.stderr, message, args.join(" "));
    assert.match(result.stderr, /^mle-relay: hint: /m, args.join(" "));
  }
});

Deno.test("mle-relay keeps reports while the parent is down and delivers them when it answers", async () => {
  await withSetup(async ({ dataDir, stub, startRelay }) => {
    stub.mode = "down";
    const relay = await startRelay();
    const capabilities = await (await fetch(`${relay.url}${API.capabilities}`)).json();
    assert.equal(capabilities.role, "relay");
    assert.equal(capabilities.acceptsEncryptedReports, true);

    const sent: string[] = [];
    for (let seq = 1; seq <= 6; seq++) {
      const body = seq % 2 ? await messages.clear(31, seq) : await messages.encrypted(31, seq);
      sent.push(body);
      assert.deepEqual(await post(relay.url, body), { status: 202, body: { status: "accepted" } });
    }
    await waitUntil(() => stub.received.length >= 6, "the relay tried the parent");
    assert.equal(stub.stored.size, 0);
    assert.equal((await spooled(dataDir)).length, 6, "all six held on disk");

    stub.mode = "up";
    await waitUntil(() => stub.stored.size === 6, "all six delivered", 20_000);
    assert.deepEqual([...stub.stored.values()].sort(), [...sent].sort(), "the exact bytes sent");
    await waitUntil(async () => (await spooled(dataDir)).length === 0, "spool emptied");

    const status = await relay.process.stop("SIGTERM");
    assert.equal(status.code, 0, relay.process.stderr);
    const signature = JSON.parse(sent[0]).signature as string;
    assert.ok(!relay.process.stderr.includes(signature), "no report body in the log");
  });
});

Deno.test("mle-relay answers 413 to an oversized report and 400 to a malformed one over HTTP", async () => {
  await withSetup(async ({ dataDir, startRelay }) => {
    const relay = await startRelay();
    const oversized = await post(relay.url, "x".repeat(MAX_REPORT_MESSAGE_BYTES + 1));
    assert.equal(oversized.status, 413);
    assert.equal((oversized.body as { error: { code: string } }).error.code, "ERR_TOO_LARGE");
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        const chunk = new TextEncoder().encode(" ".repeat(256 * 1024));
        for (let i = 0; i < 5; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    assert.equal((await post(relay.url, chunked)).status, 413, "no declared length");
    const malformed = await post(relay.url, '{"protected":');
    assert.equal(malformed.status, 400);
    assert.equal(
      (malformed.body as { error: { code: string } }).error.code,
      "ERR_ENVELOPE_MALFORMED",
    );
    assert.deepEqual(await spooled(dataDir), []);
    assert.equal((await relay.process.stop("SIGTERM")).code, 0);
  });
});

Deno.test("mle-relay killed with acknowledged reports delivers each exactly once after a restart", async () => {
  await withSetup(async ({ dataDir, stub, startRelay }) => {
    stub.mode = "down";
    const first = await startRelay();
    const sent: string[] = [];
    for (let seq = 1; seq <= 8; seq++) {
      const body = seq % 2 ? await messages.encrypted(32, seq) : await messages.clear(32, seq);
      sent.push(body);
      assert.equal((await post(first.url, body)).status, 202);
    }
    const killed = await first.process.stop("SIGKILL");
    assert.notEqual(killed.code, 0);
    assert.equal((await spooled(dataDir)).length, 8, "every acknowledged report survived the kill");

    // The parent comes back, but loses its first acknowledgement of each report: the relay
    // resends, the parent answers 409 ERR_DUPLICATE_REPORT, the relay drops its copy.
    stub.mode = "up";
    stub.loseFirstAck = true;
    const second = await startRelay();
    await waitUntil(async () => (await spooled(dataDir)).length === 0, "spool emptied", 20_000);
    assert.equal(stub.stored.size, 8, "each stored exactly once");
    assert.deepEqual([...stub.stored.values()].sort(), [...sent].sort());
    // Each resent once after its lost ack, answered 409, and then dropped: never sent again.
    assert.deepEqual(
      [...stub.duplicatesAnswered].sort(),
      [...stub.stored.keys()].sort(),
      "each report resent exactly once and answered 409 ERR_DUPLICATE_REPORT",
    );
    assert.deepEqual([...Deno.readDirSync(joinPath(dataDir, "rejected"))], []);
    assert.equal((await second.process.stop("SIGTERM")).code, 0);
  });
});

Deno.test("mle-relay killed in the middle of a delivery resends and the parent stores it once", async () => {
  await withSetup(async ({ dataDir, stub, startRelay }) => {
    stub.reportDelayMs = 600;
    const first = await startRelay(["--concurrency", "2"]);
    for (let seq = 1; seq <= 4; seq++) {
      assert.equal((await post(first.url, await messages.clear(33, seq))).status, 202);
    }
    await waitUntil(() => stub.maxConcurrentReports === 2, "two sends waiting on the parent");
    await first.process.stop("SIGKILL");
    await waitUntil(() => stub.received.length >= 2, "the parent got the interrupted sends");
    stub.reportDelayMs = 0;
    const second = await startRelay();
    await waitUntil(async () => (await spooled(dataDir)).length === 0, "spool emptied", 20_000);
    assert.equal(stub.stored.size, 4, "each stored exactly once");
    // Only the two interrupted sends came again, each answered 409 and then dropped.
    assert.equal(
      stub.duplicatesAnswered.length,
      2,
      `resends answered 409: ${stub.duplicatesAnswered}`,
    );
    assert.equal(new Set(stub.duplicatesAnswered).size, 2);
    assert.equal(stub.received.length, 6);
    assert.equal((await second.process.stop("SIGTERM")).code, 0);
  });
});

Deno.test("mle-relay --no-encrypted-reports says so and refuses encrypted reports with 415", async () => {
  await withSetup(async ({ stub, startRelay }) => {
    const relay = await startRelay(["--no-encrypted-reports"]);
    const capabilities = await (await fetch(`${relay.url}${API.capabilities}`)).json();
    assert.equal(capabilities.acceptsEncryptedReports, false);
    const refused = await post(relay.url, await messages.encrypted(34, 1));
    assert.equal(refused.status, 415);
    assert.equal(
      (refused.body as { error: { code: string } }).error.code,
      "ERR_ENCRYPTION_NOT_SUPPORTED",
    );
    assert.equal((await post(relay.url, await messages.clear(34, 2))).status, 202);
    await waitUntil(() => stub.stored.size === 1, "the clear report delivered");
    assert.ok(stub.stored.has("34:2"));
    assert.equal((await relay.process.stop("SIGTERM")).code, 0);
  });
});

Deno.test("mle-relay moves a report the parent refuses to rejected/ and does not retry it", async () => {
  await withSetup(async ({ dataDir, stub, startRelay }) => {
    stub.mode = "reject";
    const relay = await startRelay();
    const refused = await messages.clear(35, 1);
    assert.equal((await post(relay.url, refused)).status, 202);
    const rejected = joinPath(dataDir, "rejected");
    await waitUntil(
      () => [...Deno.readDirSync(rejected)].length === 2,
      "message and reason in rejected/",
    );
    const names = [...Deno.readDirSync(rejected)].map((entry) => entry.name).sort();
    assert.match(names[0], /\.json$/);
    assert.match(names[1], /\.reason$/);
    assert.match(
      await Deno.readTextFile(joinPath(rejected, names[1])),
      /parent answered 400 ERR_REPORT_INVALID/,
    );
    assert.deepEqual(await spooled(dataDir), []);
    // The next report goes up while the refused one is never sent again (oldest first: a retry of
    // the refused one would come before it).
    stub.mode = "up";
    const next = await messages.clear(35, 2);
    assert.equal((await post(relay.url, next)).status, 202);
    await waitUntil(() => stub.stored.has("35:2"), "the next report delivered");
    assert.deepEqual(stub.received, [refused, next], "the refused report was sent again");
    assert.match(relay.process.stderr, /warn mle-relay parent refused a message for good/);
    assert.equal((await relay.process.stop("SIGTERM")).code, 0);
  });
});

Deno.test("mle-relay serves the cached masthead while the parent is down, across a restart", async () => {
  await withSetup(async ({ stub, startRelay }) => {
    const masthead = '{"protected":"eyJ0eXAiOiJtYXN0aGVhZCJ9","payload":"e30","signature":"c2ln"}';
    stub.documents.set(API.masthead, masthead);
    const first = await startRelay();
    const fresh = await fetch(`${first.url}${API.masthead}`);
    assert.equal(fresh.status, 200);
    assert.equal(await fresh.text(), masthead);

    stub.mode = "down";
    const stale = await fetch(`${first.url}${API.masthead}`);
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get("x-mle-relay-cache"), "stale");
    assert.equal(await stale.text(), masthead);
    const none = await fetch(`${first.url}${API.revocations}`);
    assert.equal(none.status, 503);
    assert.equal((await none.json()).error.code, "ERR_PARENT_UNREACHABLE");
    assert.equal((await first.process.stop("SIGTERM")).code, 0);

    const second = await startRelay();
    const afterRestart = await fetch(`${second.url}${API.masthead}`);
    assert.equal(afterRestart.status, 200);
    assert.equal(await afterRestart.text(), masthead);
    assert.equal((await second.process.stop("SIGTERM")).code, 0);
  });
});

Deno.test("mle-relay refuses a data dir another relay is running on", async () => {
  await withSetup(async ({ dataDir, stub, startRelay }) => {
    const relay = await startRelay();
    const second = await runRole("relay", [
      "run",
      "--parent",
      stub.url,
      "--data-dir",
      dataDir,
      "--listen",
      "127.0.0.1:0",
    ]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /mle-relay: error: Cannot use data dir .*another mle-relay/);
    assert.match(second.stderr, /mle-relay: hint: /);
    assert.equal((await relay.process.stop("SIGTERM")).code, 0);
  });
});
