/**
 * `npm run soak`: proof under crashes. Real processes on 127.0.0.1: a server, a decrypting
 * top-level relay, a chain of two relays below it, a few real `mle-client run` agents (one with an
 * upload in progress) and the simulated clients of `soak_clients.ts`. A seeded chaos loop
 * `kill -9`s a random process at random moments and restarts it; with four kills or more, four of
 * them land in moments it aims at, each seen in the process's own state (`soak_moments.ts`): the
 * server while an upload's chunks are written and during a key rotation, an agent during its own
 * `mle-client rotate-keys`, the decrypting relay with a bundle in flight. At the end everything drains and
 * the soak checks, from the clients' own records and the server's store: every report a client
 * was told was delivered, or still holds queued, is stored exactly once; every report a real agent
 * queued is stored exactly once under one of its computer ids (the one it rotated from and the
 * one the server linked to it, "replaced by"); every completed upload matches its SHA-256; no
 * canary of an encrypted report or upload in clear on any relay's disk. The last line of output
 * is JSON.
 *
 * Usage: deno run --allow-all scripts/soak.ts [--reports N] [--minutes M] [--kills K] [--seed S]
 *        [--clients C]
 *
 * Exit code: 0 when nothing was lost, duplicated or corrupt; 1 otherwise; 2 on bad options.
 *
 * @module
 */

import { readInteger } from "../cli/flags.ts";
import { DatabaseSync } from "node:sqlite";
import { DATABASE_FILE } from "../store/mod.ts";
import {
  admin,
  copyKeysByUsb,
  createSite,
  freePort,
  generateKey,
  relayRunArgs,
  rotateKey,
  serverRunArgs,
  spooledMessages,
  type TestSite,
} from "../tests/deployment.ts";
import { RoleProcess } from "../tests/run_role.ts";
import { readScriptOptions } from "./script_flags.ts";
import { seededRandom } from "./seeded_random.ts";
import { SoakClients } from "./soak_clients.ts";
import {
  answers,
  bundlesInFlight,
  type TargetedKills,
  waitForBundleInFlight,
  waitForChunkWrite,
} from "./soak_moments.ts";
import {
  agentState,
  filesContaining,
  idsReplacedInto,
  sha256Hex,
  spentUnqueued,
  storedSeqsOf,
  uploadsOf,
} from "./soak_evidence.ts";

/** The soak's result, the last line it prints. */
export interface SoakResult {
  reports_acknowledged: number;
  stored: number;
  lost: number;
  duplicated: number;
  kills: number;
  restarts: number;
  max_recovery_s: number;
  uploads_completed: number;
  uploads_corrupt: number;
  agents_reports_stored: number;
  /** Real agents' key rotations (`mle-client rotate-keys`) linked by the server, old id to new. */
  agents_rotated: number;
  clear_text_on_relay_disks: number;
  killed: Record<string, number>;
  /** Kills that landed in the moments the soak aims at (each at least once with 4 kills or more). */
  targeted_kills: TargetedKills;
  seed: number;
  seconds: number;
}

/** A process the chaos loop may kill: how to start it and how to tell it is back. */
interface Victim {
  name: string;
  start: () => Promise<RoleProcess>;
  process: RoleProcess;
  /** A port that answers once the process is back, or null (agents). */
  port: number | null;
}

const options = readScriptOptions(Deno.args, {
  tool: "soak",
  flags: {
    reports: { type: "string" },
    minutes: { type: "string" },
    kills: { type: "string" },
    seed: { type: "string" },
    clients: { type: "string" },
  },
  read: (values) => ({
    reports: readInteger("reports", values.reports, 10_000, { min: 1, max: 10_000_000 }),
    minutes: readInteger("minutes", values.minutes, 20, { min: 1, max: 1440, unit: "minutes" }),
    kills: readInteger("kills", values.kills, 50, { min: 0, max: 100_000 }),
    seed: readInteger("seed", values.seed, Date.now() % 1_000_000, { min: 0, max: 2 ** 32 - 1 }),
    clients: readInteger("clients", values.clients, 300, { min: 1, max: 100_000 }),
  }),
});

function say(line: string): void {
  console.error(`soak: ${line}`);
}

async function started(process: RoleProcess, text: string | RegExp): Promise<RoleProcess> {
  await process.waitFor(text, 60_000);
  return process;
}

async function main(): Promise<number> {
  const began = Date.now();
  const random = seededRandom(options.seed);
  const deadline = began + options.minutes * 60_000;
  const canary = `soak-canary-${crypto.randomUUID()}`;
  say(`seed ${options.seed}; setting up the site`);
  const site: TestSite = await createSite();
  await generateKey(site, true);
  const dirs = {
    top: `${site.root}/relay-top`,
    middle: `${site.root}/relay-middle`,
    edge: `${site.root}/relay-edge`,
  };
  await copyKeysByUsb(site, dirs.top);
  const ports = { top: freePort(), middle: freePort(), edge: freePort() };
  const serverArgs = serverRunArgs(site, [
    "--ops-listen",
    "127.0.0.1:0",
    // Not the console's fixed default port, which another server on this host may hold.
    "--console-listen",
    "127.0.0.1:0",
  ]);
  const victims: Victim[] = [
    {
      name: "server",
      port: site.serverPort,
      start: () => started(new RoleProcess("server", serverArgs), "listening on"),
      process: null!,
    },
    {
      name: "relay-top",
      port: ports.top,
      start: () =>
        started(
          new RoleProcess(
            "relay",
            relayRunArgs(dirs.top, ports.top, site.serverPort, [
              "--decrypt",
              "--bundle-wait-ms",
              "200",
            ]),
          ),
          "listening on",
        ),
      process: null!,
    },
    {
      name: "relay-middle",
      port: ports.middle,
      start: () =>
        started(
          new RoleProcess("relay", relayRunArgs(dirs.middle, ports.middle, ports.top)),
          "listening on",
        ),
      process: null!,
    },
    {
      name: "relay-edge",
      port: ports.edge,
      start: () =>
        started(
          new RoleProcess("relay", relayRunArgs(dirs.edge, ports.edge, ports.middle)),
          "listening on",
        ),
      process: null!,
    },
  ];
  for (const victim of victims) victim.process = await victim.start();
  const top = victims[1].process;
  await top.waitFor(/registered as computer \d+/, 60_000);
  const topId = /registered as computer (\d+)/.exec(top.stderr)![1];
  await admin([
    "relays",
    "allow",
    topId,
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);

  // The real agents: one reports through each relay of the chain; the first uploads a file.
  const uploadFile = `${site.root}/upload.bin`;
  const uploadBytes = new Uint8Array(3 << 20);
  for (let i = 0; i < uploadBytes.length; i += 65536) {
    crypto.getRandomValues(uploadBytes.subarray(i, i + 65536));
  }
  new TextEncoder().encodeInto(canary, uploadBytes);
  await Deno.writeFile(uploadFile, uploadBytes);
  const uploadSha256 = await sha256Hex(uploadFile);
  const agentPorts = [ports.edge, ports.middle];
  const agentDirs = agentPorts.map((_, i) => `${site.root}/agent-${i}`);
  const connection = (i: number) => [
    "--data-dir",
    agentDirs[i],
    "--masthead",
    site.masthead,
    "--parent",
    `http://127.0.0.1:${agentPorts[i]}`,
    "--host-identifier",
    "instance",
    "--encryption",
    "required",
  ];
  // The upload paced at 256 KiB/s: its chunks are written over about 12 s, a moment to aim at.
  await admin([
    "settings",
    "set",
    "_BESClient_UploadManager_ThrottleKBPS=256",
    "--all",
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  await Deno.mkdir(agentDirs[0], { recursive: true });
  const queued = new RoleProcess("client", ["upload", uploadFile, ...connection(0)]);
  const queuedStatus = await queued.child.status;
  if (!queuedStatus.success) throw new Error(`mle-client upload failed: ${queued.stderr}`);
  for (let i = 0; i < agentDirs.length; i++) {
    victims.push({
      name: `agent-${i}`,
      port: null,
      start: () =>
        Promise.resolve(
          new RoleProcess("client", ["run", "--interval", "2", "--quiet", ...connection(i)]),
        ),
      process: null!,
    });
    victims.at(-1)!.process = await victims.at(-1)!.start();
  }

  // The simulated clients, through the edge and middle relays.
  const clients = new SoakClients({
    parentPorts: [ports.edge, ports.edge, ports.middle],
    serverPort: site.serverPort,
    masthead: site.masthead,
    canary,
    random,
  });
  say(`registering ${options.clients} simulated clients`);
  await clients.register(options.clients, deadline);
  say(`sending ${options.reports} reports with ${options.kills} kills`);
  const sending = clients.send(options.reports, 16, deadline);

  // Chaos: kills spread over the time the reports take, one of them during a key rotation.
  const killed: Record<string, number> = {};
  let kills = 0;
  let restarts = 0;
  let maxRecoveryMs = 0;
  let sendingDone = false;
  sending.finally(() => sendingDone = true);
  const rotationAt = Math.floor(options.kills / 2);
  // One agent rotates its key (new key pair, new computer id) and is killed during it.
  const agentRotationAt = options.kills >= 2 ? Math.floor(options.kills / 4) : -1;
  const rotatingAgent = 1;
  // With 4 kills or more: the first lands while the upload's chunks are written at the server, the
  // last while the decrypting relay has a bundle in flight.
  const chunkWriteAt = options.kills >= 4 ? 0 : -1;
  const bundleAt = options.kills >= 4 ? options.kills - 1 : -1;
  const targeted: TargetedKills = {
    key_rotation: 0,
    client_rotate_keys: 0,
    bundle_in_flight: 0,
    upload_chunk_write: 0,
  };
  /** Per agent, the numbers spent but never queued because a kill came between. */
  const spentNotQueued = agentDirs.map(() => new Set<number>());
  const deliveredNow = (i: number) => () => {
    const db = new DatabaseSync(`${site.serverDir}/${DATABASE_FILE}`, { readOnly: true });
    try {
      return new Set(agentStoredSeqs(db, i));
    } finally {
      db.close();
    }
  };
  const agentStoredSeqs = (db: DatabaseSync, i: number) => {
    const current = agentIds[i];
    return current === null ? [] : storedSeqsOf(db, idsReplacedInto(db, current));
  };
  const agentIds: Array<number | null> = await Promise.all(
    agentDirs.map(async (dir) => (await agentState(dir)).computerId),
  );
  for (let k = 0; k < options.kills && Date.now() < deadline; k++) {
    // Between kills: wait for a share of the reports, so kills land while reports flow.
    const target = Math.floor((options.reports * (k + 1)) / (options.kills + 1));
    while (!sendingDone && clients.acknowledged < target && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20 + random() * 200));
    }
    let victim = victims[Math.floor(random() * victims.length)];
    let rotation: Promise<unknown> | null = null;
    if (k === rotationAt) {
      victim = victims[0];
      say("rotating the server's key; the server dies during it");
      rotation = rotateKey(site, [dirs.top]);
      await new Promise((resolve) => setTimeout(resolve, random() * 500));
    }
    let agentRotation: RoleProcess | null = null;
    if (k === agentRotationAt) {
      victim = victims[4 + rotatingAgent];
      say(`rotating agent-${rotatingAgent}'s key; the agent dies during it`);
      agentRotation = new RoleProcess("client", ["rotate-keys", ...connection(rotatingAgent)]);
      // Killed once the old KeyStorage is gone and the agent is told to register the new key.
      await agentRotation.waitFor(/^deleted /m, 20_000).catch(() => {});
    }
    let chunkWrite = false;
    if (k === chunkWriteAt) {
      victim = victims[0];
      chunkWrite = await waitForChunkWrite(site.serverDir, 20_000);
      say(`killing the server ${chunkWrite ? "while" : "(missed:"} an upload's chunks are written`);
    }
    if (k === bundleAt) {
      victim = victims[1];
      const seen = await waitForBundleInFlight(() => victim.process.stderr, 20_000);
      say(`killing the decrypting relay ${seen ? "with" : "(missed:"} a bundle in flight`);
    }
    const rotatingNow = agentRotation !== null && agentRotation.exited === null;
    const killedAt = Date.now();
    await victim.process.stop("SIGKILL");
    // Counted only when the moment held at the kill: the rotation still running, the relay's
    // last bundle never answered (its whole log is read once it died), the partial file growing.
    if (rotation !== null) targeted.key_rotation++;
    if (rotatingNow) targeted.client_rotate_keys++;
    if (k === bundleAt && bundlesInFlight(victim.process.stderr) > 0) targeted.bundle_in_flight++;
    if (chunkWrite) targeted.upload_chunk_write++;
    kills++;
    killed[victim.name] = (killed[victim.name] ?? 0) + 1;
    const agentIndex = victims.indexOf(victim) - 4;
    if (agentIndex >= 0) {
      agentIds[agentIndex] = (await agentState(agentDirs[agentIndex])).computerId;
      const seq = await spentUnqueued(agentDirs[agentIndex], deliveredNow(agentIndex));
      if (seq !== null) spentNotQueued[agentIndex].add(seq);
    }
    await new Promise((resolve) => setTimeout(resolve, random() * 1_000));
    victim.process = await victim.start();
    restarts++;
    if (victim.port !== null) {
      while (!(await answers(victim.port))) await new Promise((r) => setTimeout(r, 50));
      maxRecoveryMs = Math.max(maxRecoveryMs, Date.now() - killedAt);
    }
    // The restarted agent registers the new key the rotation installed; rotate-keys sees it.
    if (agentRotation !== null) {
      const status = await agentRotation.child.status;
      if (!status.success) {
        throw new Error(`mle-client rotate-keys failed: ${agentRotation.stderr}`);
      }
      agentIds[rotatingAgent] = (await agentState(agentDirs[rotatingAgent])).computerId;
    }
    await rotation;
  }
  await sending;

  // Drain: the agents' queues and the upload, then every relay's spool.
  say("draining");
  const drainDeadline = Date.now() + 5 * 60_000;
  const agentStatus = async (i: number) =>
    JSON.parse(
      (await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "--quiet",
          new URL("../client/main.ts", import.meta.url).pathname,
          "status",
          "--data-dir",
          agentDirs[i],
          "--json",
        ],
        stdout: "piped",
        stderr: "null",
      }).output()).stdout.reduce((text, byte) => text + String.fromCharCode(byte), ""),
    );
  // Messages waiting in the relays' spools (not files: an emptied segment file may stay).
  const waiting = async () => {
    let count = 0;
    for (const dir of Object.values(dirs)) count += (await spooledMessages(dir)).length;
    return count;
  };
  const uploadDone = () => uploadsOf(site).some((u) => u.state === "complete");
  while (Date.now() < drainDeadline) {
    const statuses = await Promise.all(agentDirs.map((_, i) => agentStatus(i)));
    const agentsQueued = statuses.reduce((sum, s) => sum + Number(s.queueDepth ?? 1), 0);
    if (agentsQueued === 0 && (await waiting()) === 0 && uploadDone()) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // The agents go on reporting while the rest drains: one may hand a relay a report (202) after
  // the check above. Once they are stopped, the relays forward what they hold before the tally
  // (messages waiting, not files: an emptied segment file may stay).
  for (const victim of victims.slice(4)) await victim.process.stop();
  const forwardDeadline = Date.now() + 60_000;
  while (Date.now() < forwardDeadline && (await waiting()) > 0) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  for (const victim of victims.slice(1, 4)) await victim.process.stop();

  // The tally, from the clients' records and the server's store.
  const records = clients.records();
  const db = new DatabaseSync(`${site.serverDir}/${DATABASE_FILE}`, { readOnly: true });
  const rows = db.prepare("SELECT computer_id AS cid, seq, body FROM reports").all() as Array<
    { cid: number; seq: number; body: string }
  >;
  db.close();
  const storedSeqs = new Map<number, Set<number>>();
  const soakIds = new Map<string, number>();
  for (const row of rows) {
    if (!records.delivered.has(row.cid)) continue; // an agent's: reconciled below
    storedSeqs.set(row.cid, (storedSeqs.get(row.cid) ?? new Set()).add(row.seq));
    const id = /"SoakId":"([^"]+)"/.exec(row.body)?.[1] ?? `${row.cid}:${row.seq}`;
    soakIds.set(id, (soakIds.get(id) ?? 0) + 1);
  }
  let lost = 0;
  let stored = 0;
  for (const [cid, delivered] of records.delivered) {
    const have = storedSeqs.get(cid) ?? new Set();
    stored += have.size;
    for (const seq of [...delivered, ...records.queued.get(cid)!]) if (!have.has(seq)) lost++;
  }
  let duplicated = [...soakIds.values()].reduce((sum, n) => sum + (n - 1), 0);

  // The real agents: every number an agent spent is stored once under one of its ids (the one it
  // has now and those the server says it replaced), unless a kill came before its report was
  // queued; still queued counts as lost (the drain waited for every queue to empty).
  let agentsStored = 0;
  let agentsRotated = 0;
  const dbAgain = new DatabaseSync(`${site.serverDir}/${DATABASE_FILE}`, { readOnly: true });
  for (let i = 0; i < agentDirs.length; i++) {
    const state = await agentState(agentDirs[i]);
    agentIds[i] = state.computerId;
    const ids = state.computerId === null ? [] : idsReplacedInto(dbAgain, state.computerId);
    agentsRotated += Math.max(0, ids.length - 1);
    const seqs = agentStoredSeqs(dbAgain, i);
    const distinct = new Set(seqs);
    agentsStored += distinct.size;
    duplicated += seqs.length - distinct.size;
    for (let seq = 1; seq < state.nextSeq; seq++) {
      if (!distinct.has(seq) && !spentNotQueued[i].has(seq)) lost++;
    }
  }
  dbAgain.close();
  const uploads = uploadsOf(site);
  const completed = uploads.filter((u) => u.state === "complete");
  let corrupt = 0;
  for (const upload of completed) {
    const onDisk = upload.path === null ? "" : await sha256Hex(upload.path).catch(() => "");
    if (onDisk !== upload.sha256 || upload.sha256 !== uploadSha256) corrupt++;
  }
  let clearText = 0;
  for (const dir of Object.values(dirs)) clearText += (await filesContaining(dir, canary)).length;
  await victims[0].process.stop();

  const result: SoakResult = {
    reports_acknowledged: clients.acknowledged,
    stored,
    lost,
    duplicated,
    kills,
    restarts,
    max_recovery_s: Math.round(maxRecoveryMs / 100) / 10,
    uploads_completed: completed.length,
    uploads_corrupt: corrupt,
    agents_reports_stored: agentsStored,
    agents_rotated: agentsRotated,
    clear_text_on_relay_disks: clearText,
    killed,
    targeted_kills: targeted,
    seed: options.seed,
    seconds: Math.round((Date.now() - began) / 1000),
  };
  const failed = lost > 0 || duplicated > 0 || corrupt > 0 || clearText > 0 ||
    (agentRotationAt >= 0 && agentsRotated < 1) ||
    completed.length === 0 || clients.acknowledged < options.reports;
  if (!failed) await Deno.remove(site.root, { recursive: true });
  else say(`kept ${site.root} for inspection`);
  console.log(JSON.stringify(result));
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
