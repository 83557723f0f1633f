/**
 * `npm run bench:upload [-- --size-mb N]`: one file (1 GiB by default) uploaded client → relay →
 * server on loopback, each role a real process with its shipped permissions, encryption
 * `required`.
 *
 * Prints the runtime's raw AES-256-GCM speed measured in this same run (Web Crypto, 1 MiB
 * buffers, several in flight, the best this machine's cores give), the upload's throughput, and
 * each process's peak resident memory (`VmHWM` from `/proc/<pid>/status`, polled while it runs);
 * the last line is one JSON object with `upload_mb_per_s`, `aes_gcm_mb_per_s`,
 * `client_peak_rss_mb`, `relay_peak_rss_mb`, `server_peak_rss_mb`.
 *
 * The upload's time runs from the start of sending (`mle-client report`, which sends queued
 * uploads after its report) until the server has stored the file and checked its SHA-256; queuing
 * (the client's snapshot and hash) is timed and printed separately.
 *
 * Usage: deno run --allow-all scripts/bench_upload.ts [--size-mb N] [--chunk-size BYTES] [--keep]
 *   --size-mb N          the file's size in MiB, 1 to 65536 (default 1024)
 *   --chunk-size BYTES   deploy _BESClient_UploadManager_ChunkSize first, 1024 to 4194304
 *                        (default: the client's own)
 *   --keep               keep the temporary folder
 *
 * @module
 */

import { readInteger } from "../cli/flags.ts";
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from "../protocol/upload.ts";
import {
  admin,
  clientConnectionArgs,
  clientReport,
  createSite,
  freePort,
  generateKey,
  startRelay,
  startServer,
} from "../tests/deployment.ts";
import { roleCommand } from "../tests/run_role.ts";
import { deriveChunkKey, openChunk, sealChunk } from "../envelope/upload_chunk.ts";
import { createSha256 } from "../protocol/incremental_sha256.ts";
import { cpuUsage } from "node:process";
import { ChunkConnections } from "../protocol/chunk_connections.ts";
import { readScriptOptions } from "./script_flags.ts";

const { sizeMb, chunkSize, keep } = readScriptOptions(Deno.args, {
  tool: "bench_upload",
  flags: {
    "size-mb": { type: "string" },
    "chunk-size": { type: "string" },
    keep: { type: "boolean" },
  },
  read: (values) => ({
    sizeMb: readInteger("size-mb", values["size-mb"], 1024, { min: 1, max: 65536, unit: "MiB" }),
    chunkSize: readInteger("chunk-size", values["chunk-size"], undefined, {
      min: MIN_CHUNK_SIZE,
      max: MAX_CHUNK_SIZE,
      unit: "bytes",
    }),
    keep: values.keep === true,
  }),
});
const MIB = 1024 * 1024;
const size = sizeMb * MIB;

/** Peak RSS of a process in MiB (VmHWM), or null when /proc does not have it. */
async function peakRssMb(pid: number): Promise<number | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system, all threads) a process has used, or null. */
async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  } catch {
    return null;
  }
}

/** Polls a process's peak RSS and CPU time until it ends (bounded by the process's own life). */
function watchPeak(pid: number): { stop: () => number | null; cpu: () => number | null } {
  let peak: number | null = null;
  let cpu: number | null = null;
  let running = true;
  const loop = (async () => {
    while (running) {
      const value = await peakRssMb(pid);
      if (value === null) break;
      peak = Math.max(peak ?? 0, value);
      cpu = (await cpuSeconds(pid)) ?? cpu;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    stop: () => {
      running = false;
      void loop;
      return peak;
    },
    cpu: () => cpu,
  };
}

/** Raw AES-256-GCM encryption speed of this runtime, MB/s. */
async function aesGcmSpeed(bufferBytes: number, inFlight: number, totalBytes: number) {
  const key = await crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    "AES-GCM",
    false,
    ["encrypt"],
  );
  const data = crypto.getRandomValues(new Uint8Array(Math.min(bufferBytes, 65536)));
  const buffer = new Uint8Array(bufferBytes);
  for (let i = 0; i < bufferBytes; i += data.length) {
    buffer.set(data.subarray(0, bufferBytes - i), i);
  }
  const count = Math.max(1, Math.floor(totalBytes / bufferBytes));
  const started = performance.now();
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setUint32(8, i);
    const task = crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, buffer);
    pending.add(task);
    void task.finally(() => pending.delete(task));
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  return (count * bufferBytes) / 1e6 / seconds;
}

/**
 * CPU seconds per GiB of the cryptography an encrypted upload cannot avoid, each measured alone
 * through the shipped functions with the pipeline's concurrency (8 chunks in flight): the
 * client's sealing, the server's opening, the server's SHA-256 of the file. Their sum bounds the
 * upload's speed on this machine whatever the rest costs: `CPUs / sum` GiB/s.
 */
async function cryptoCpuPerGib(totalBytes: number, chunkBytes = 131072) {
  const uid = "00112233445566778899aabbccddeeff";
  const key = await deriveChunkKey(crypto.getRandomValues(new Uint8Array(32)), uid);
  const count = Math.max(1, Math.floor(totalBytes / chunkBytes));
  const plaintext = crypto.getRandomValues(new Uint8Array(65536));
  const chunk = new Uint8Array(chunkBytes);
  for (let i = 0; i < chunkBytes; i += plaintext.length) chunk.set(plaintext, i);
  const contextOf = (index: number) => ({ cid: 1, uid, index, final: false });
  const sealed: Uint8Array<ArrayBuffer>[] = [];
  for (let i = 0; i < 8; i++) sealed.push(await sealChunk(key, contextOf(i), chunk));
  const perGib = (cpuMicros: number) => (cpuMicros / 1e6) * (1024 ** 3 / (count * chunkBytes));
  const timed = async (work: (index: number) => Promise<unknown> | void): Promise<number> => {
    const before = cpuUsage();
    const pending = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i++) {
      const task = Promise.resolve(work(i));
      pending.add(task);
      void task.finally(() => pending.delete(task));
      if (pending.size >= 8) await Promise.race(pending);
    }
    await Promise.all(pending);
    const used = cpuUsage(before);
    return perGib(used.user + used.system);
  };
  const seal = await timed((i) => sealChunk(key, contextOf(i), chunk));
  const open = await timed((i) => openChunk(key, contextOf(i % 8), sealed[i % 8]));
  const hash = createSha256();
  const sha256 = await timed(() => hash.update(chunk));
  return { seal, open, sha256, total: seal + open + sha256 };
}

/**
 * CPU seconds per GiB of one loopback HTTP hop doing nothing with the bytes, as an upload makes
 * it twice (client → relay → server): 128 KiB `PUT`s, 8 in flight, through the keep-alive writer
 * the client and relay use, into another process's `Deno.serve` that reads each body and answers
 * a small JSON. Sender and receiver CPU added.
 */
async function httpHopCpuPerGib(totalBytes: number, chunkBytes = 131072 + 16): Promise<number> {
  const sink = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => ` +
      `console.log(port) }, async (request) => Response.json({ bytes: ` +
      `(await request.arrayBuffer()).byteLength }));`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = sink.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value?.trim());
  const pool = new ChunkConnections(`http://127.0.0.1:${port}`, { maxConnections: 8 });
  const chunk = new Uint8Array(chunkBytes);
  const count = Math.max(1, Math.floor(totalBytes / chunkBytes));
  try {
    const sinkBefore = (await cpuSeconds(sink.pid)) ?? 0;
    const before = cpuUsage();
    const pending = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i++) {
      const task = pool.request("PUT", `/hop/${i}`, chunk);
      pending.add(task);
      void task.finally(() => pending.delete(task));
      if (pending.size >= 8) await Promise.race(pending);
    }
    await Promise.all(pending);
    const used = cpuUsage(before);
    const sinkUsed = ((await cpuSeconds(sink.pid)) ?? 0) - sinkBefore;
    return ((used.user + used.system) / 1e6 + sinkUsed) * (1024 ** 3 / (count * chunkBytes));
  } finally {
    pool.close();
    sink.kill();
    await reader.cancel().catch(() => {});
    await sink.status;
  }
}

console.log(
  `bench_upload: ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, ${sizeMb} MiB file`,
);
const aesSerial = await aesGcmSpeed(131072, 1, 256 * MIB);
const aesSerialLarge = await aesGcmSpeed(MIB, 1, 512 * MIB);
const aesParallel = await aesGcmSpeed(MIB, navigator.hardwareConcurrency * 2, 512 * MIB);
const aes = Math.max(aesSerial, aesSerialLarge, aesParallel);
console.log(
  `raw AES-256-GCM (Web Crypto): ${aesSerial.toFixed(0)} MB/s (128 KiB, one at a time), ` +
    `${aesSerialLarge.toFixed(0)} MB/s (1 MiB, one at a time), ${aesParallel.toFixed(0)} MB/s ` +
    `(1 MiB, ${navigator.hardwareConcurrency * 2} in flight); taken: ${aes.toFixed(0)} MB/s`,
);

const cryptoCpu = await cryptoCpuPerGib(256 * MIB);
const ceilingMbPerS = (navigator.hardwareConcurrency * 1024 ** 3) / cryptoCpu.total / 1e6;
console.log(
  `crypto an encrypted upload cannot avoid, CPU seconds per GiB: seal ${
    cryptoCpu.seal.toFixed(2)
  } + open ${cryptoCpu.open.toFixed(2)} + SHA-256 ${cryptoCpu.sha256.toFixed(2)} = ${
    cryptoCpu.total.toFixed(2)
  }; with nothing else to do, ${navigator.hardwareConcurrency} CPUs could upload at most ${
    ceilingMbPerS.toFixed(0)
  } MB/s`,
);

const hopCpu = await httpHopCpuPerGib(512 * MIB);
const floorCpu = cryptoCpu.total + 2 * hopCpu;
const floorMbPerS = (navigator.hardwareConcurrency * 1024 ** 3) / floorCpu / 1e6;
console.log(
  `one loopback HTTP hop doing nothing with the bytes: ${hopCpu.toFixed(2)} CPU s per GiB; ` +
    `crypto + two hops = ${floorCpu.toFixed(2)} CPU s per GiB, so at most ${
      floorMbPerS.toFixed(0)
    } MB/s here before any disk write, relay or upload bookkeeping`,
);

const site = await createSite();
const clientDir = `${site.root}/client`;
const relayDir = `${site.root}/relay`;
await generateKey(site, true);
const server = await startServer(site);
const relayPort = freePort();
const relay = await startRelay(relayDir, relayPort, site.serverPort);
const serverPeak = watchPeak(server.child.pid);
const relayPeak = watchPeak(relay.child.pid);
let relayCpuBefore = 0;
let serverCpuBefore = 0;
try {
  // Registration, certificate and settings first, so that they are not timed.
  const first = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
  if (first.code !== 0) throw new Error(`client report failed: ${first.stderr}`);
  if (chunkSize !== undefined) {
    await admin([
      "settings",
      "set",
      `_BESClient_UploadManager_ChunkSize=${chunkSize}`,
      "--all",
      "--site-key",
      site.siteKey,
      "--data-dir",
      site.serverDir,
    ]);
  }

  const file = `${site.root}/bench.bin`;
  const out = await Deno.open(file, { write: true, createNew: true });
  const block = crypto.getRandomValues(new Uint8Array(65536));
  const blockMib = new Uint8Array(MIB);
  for (let i = 0; i < MIB; i += block.length) blockMib.set(block, i);
  for (let written = 0; written < size; written += MIB) {
    blockMib[0] = written / MIB; // no two MiB alike
    let done = 0;
    while (done < MIB) done += await out.write(blockMib.subarray(done));
  }
  out.close();

  const connection = [
    ...clientConnectionArgs(site, clientDir, relayPort),
    "--encryption",
    "required",
    "--quiet",
  ];
  const queue = await runClient(["upload", file, ...connection]);
  relayCpuBefore = (await cpuSeconds(relay.child.pid)) ?? 0;
  serverCpuBefore = (await cpuSeconds(server.child.pid)) ?? 0;
  const send = await runClient(["report", ...connection]);
  const relayCpu = ((await cpuSeconds(relay.child.pid)) ?? 0) - relayCpuBefore;
  const serverCpu = ((await cpuSeconds(server.child.pid)) ?? 0) - serverCpuBefore;
  const listed = JSON.parse(
    (await admin(["uploads", "list", "--json", "--data-dir", site.serverDir])).stdout,
  );
  const stored = listed.find((u: { size: number; state: string }) => u.size === size);
  if (!stored || stored.state !== "complete") {
    throw new Error(`the server did not store the file: ${JSON.stringify(listed)}`);
  }
  const uploadMbPerS = size / 1e6 / send.seconds;
  const relayRss = relayPeak.stop();
  const serverRss = serverPeak.stop();
  const clientRss = Math.max(queue.peak ?? 0, send.peak ?? 0);
  console.log(
    `queued (snapshot + SHA-256) in ${queue.seconds.toFixed(2)} s; sent and stored in ` +
      `${send.seconds.toFixed(2)} s: ${uploadMbPerS.toFixed(1)} MB/s ` +
      `(${(size / 1e6 / (queue.seconds + send.seconds)).toFixed(1)} MB/s with queuing)`,
  );
  console.log(
    `CPU while sending: client ${send.cpu?.toFixed(2)} s, relay ${relayCpu.toFixed(2)} s, ` +
      `server ${serverCpu.toFixed(2)} s, over ${send.seconds.toFixed(2)} s on ` +
      `${navigator.hardwareConcurrency} CPUs`,
  );
  const gib = size / 1024 ** 3;
  const cpuPerGib = ((send.cpu ?? 0) + relayCpu + serverCpu) / gib;
  const targetSecondsPerGib = 1024 ** 3 / (aes / 2 * 1e6);
  const budgetPerGib = navigator.hardwareConcurrency * targetSecondsPerGib;
  console.log(
    `CPU per GiB: ${cpuPerGib.toFixed(2)} s, of which the unavoidable crypto ~${
      cryptoCpu.total.toFixed(2)
    } s; at the target ${(aes / 2).toFixed(0)} MB/s, ${navigator.hardwareConcurrency} CPUs have ${
      budgetPerGib.toFixed(2)
    } CPU s per GiB, leaving ${
      (budgetPerGib - cryptoCpu.total).toFixed(2)
    } s for all the rest (two HTTP hops, disk, three processes); this run's rest: ${
      (cpuPerGib - cryptoCpu.total).toFixed(2)
    } s`,
  );
  console.log(
    `peak RSS: client ${clientRss.toFixed(1)} MiB, relay ${relayRss?.toFixed(1)} MiB, ` +
      `server ${serverRss?.toFixed(1)} MiB`,
  );
  console.log(
    `targets: RSS ≤ 128 MiB each: ${
      Math.max(clientRss, relayRss ?? 0, serverRss ?? 0) <= 128 ? "met" : "missed"
    }; upload ≥ half of AES-GCM (${(aes / 2).toFixed(0)} MB/s): ${
      uploadMbPerS >= aes / 2 ? "met" : "missed"
    }`,
  );
  console.log(JSON.stringify({
    upload_mb_per_s: round(uploadMbPerS),
    aes_gcm_mb_per_s: round(aes),
    client_peak_rss_mb: round(clientRss),
    relay_peak_rss_mb: round(relayRss ?? 0),
    server_peak_rss_mb: round(serverRss ?? 0),
    crypto_ceiling_mb_per_s: round(ceilingMbPerS),
    crypto_and_two_hops_ceiling_mb_per_s: round(floorMbPerS),
    cpu_s_per_gib: round(cpuPerGib),
  }));
} finally {
  await relay.stop();
  await server.stop();
  if (!keep) await Deno.remove(site.root, { recursive: true });
}

async function runClient(args: string[]) {
  const { command, args: full } = roleCommand("client", args);
  const started = performance.now();
  const child = new Deno.Command(command, {
    args: full,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const watch = watchPeak(child.pid);
  const output = await child.output();
  const seconds = (performance.now() - started) / 1000;
  const cpu = watch.cpu();
  const peak = watch.stop();
  if (output.code !== 0) {
    throw new Error(
      `mle-client ${args[0]} exited ${output.code}: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return { seconds, peak, cpu };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
