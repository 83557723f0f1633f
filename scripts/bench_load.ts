/**
 * The load generator of `npm run bench`, one process per worker: it plays many simulated clients,
 * each with its own Ed25519 key pair and computer id, and sends their reports over several
 * keep-alive HTTP/1.1 connections. `scripts/bench.ts` drives it with one JSON command per line on
 * stdin and reads one JSON answer per line on stdout.
 *
 * Reports are signed and sealed with the product's own envelope code (`signReport`,
 * `sealReport`), each client reusing its content key within `envelope/content_key_policy.ts` as
 * the real client does. They are sealed before a timed phase starts ("prepare"), so that the
 * timed phase measures the server and not the generator, which shares the machine's cores. The
 * HTTP client is a minimal one over `Deno.connect` for the same reason: it costs the generator
 * a fraction of what `fetch` would.
 *
 * Commands: `register`, `prepare` and `forge` (fill a named pool of sealed requests), `run` (send
 * from a pool for a while; a pool can be sent in several slices), `drop`, `exit` (see
 * {@linkcode Command}).
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import { createContentKey } from "../envelope/jwe.ts";
import { sealReport, signReport } from "../envelope/report_message.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { API } from "../protocol/paths.ts";
import { signRegistration } from "../protocol/registration.ts";
import type { Report } from "../protocol/report.ts";
import { type ContentKeyHolder, fetchServerKey, nextContentKey } from "./simulated_client_keys.ts";

/** One simulated client. */
interface SimulatedClient extends ContentKeyHolder {
  cid: number;
  privateKey: CryptoKey;
  nextSeq: number;
}

/** What bench.ts asks. */
export type Command =
  | { cmd: "register"; port: number; count: number; concurrency: number; tag: string }
  | {
    cmd: "prepare";
    /** Name of the pool of sealed requests to fill (replacing one of that name). */
    pool: string;
    /** "fresh-keys": encrypted, every report under a content key wrapped afresh (hostile). */
    mode: "clear" | "encrypt" | "fresh-keys";
    perClient: number;
    /** For "encrypt": where to fetch the certificate and the masthead that vouches for it. */
    port?: number;
    masthead?: string;
  }
  | { cmd: "forge"; pool: string; count: number; port: number; masthead: string }
  | {
    cmd: "run";
    /** The pool to send from; a pool is consumed across runs (slices) until dropped. */
    pool: string;
    port: number;
    connections: number;
    durationMs: number;
  }
  | { cmd: "drop"; pool: string }
  | { cmd: "exit" };

const encoder = new TextEncoder();
const clients: SimulatedClient[] = [];
/** A pool of sealed requests, in round-robin order of clients, and how far it was sent. */
interface Pool {
  requests: Uint8Array[];
  next: number;
}
const pools = new Map<string, Pool>();

/** About 1 KiB of retrieved properties, varied per client and report. */
function reportOf(client: SimulatedClient, seq: number): Report {
  return {
    computerId: client.cid,
    seq,
    createdAt: new Date().toISOString(),
    properties: {
      hostname: `bench-host-${client.cid}.example.internal`,
      os_name: "Ubuntu 24.04.1 LTS",
      os_version: "6.8.0-45-generic",
      architecture: "x86_64",
      cpu_count: 8,
      memory_bytes: 34359738368,
      ip_addresses: [`10.${(client.cid >> 8) & 255}.${client.cid & 255}.17`, "fe80::1c2:3ff:fe4:5"],
      uptime_s: 86400 + seq,
      agent_version: "0.1.0",
      encryption_level: "optional",
      disk_free_bytes: 412316860416 - seq,
      installed_packages: 1873,
      last_patch: "2026-10-14T03:12:55Z",
      bios: "SeaBIOS 1.16.3-debian-1.16.3-2 04/01/2014",
      cpu_model: "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
      timezone: "Europe/Berlin",
      domain: "corp.example.internal",
      logged_on_users: ["alice", "svc-backup"],
      open_ports: "22,80,443,52311",
      antivirus: "ClamAV 1.4.1 signatures 27439 (2026-11-02)",
      note: "x".repeat(160),
    },
    custom: { Site: "bench", Owner: "ops", Rack: `R${client.cid % 40}` },
    relevance: [{ id: "fixlet-1042", relevant: seq % 3 === 0 }],
    actionStatuses: [],
    analyses: [],
  };
}

/** The bytes of one HTTP/1.1 POST with a JSON body. */
function postRequest(path: string, body: string): Uint8Array {
  const payload = encoder.encode(body);
  const head = encoder.encode(
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `content-length: ${payload.length}\r\n\r\n`,
  );
  const request = new Uint8Array(head.length + payload.length);
  request.set(head);
  request.set(payload, head.length);
  return request;
}

async function register(
  command: Extract<Command, { cmd: "register" }>,
): Promise<Record<string, unknown>> {
  const started = performance.now();
  let next = 0;
  const failures: string[] = [];
  const lane = async () => {
    while (next < command.count) {
      const index = next++;
      const pair = await generateSigningKeyPair();
      const publicKey = encodeBase64Url(await exportSigningPublicKey(pair.publicKey));
      const registration = await signRegistration(pair.privateKey, {
        publicKey,
        hostIdentity: `bench-${command.tag}-${index}-${crypto.randomUUID()}`,
        hostname: `bench-${command.tag}-${index}`,
        issuedAt: Date.now(),
      });
      const response = await fetch(`http://127.0.0.1:${command.port}${API.register}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(registration),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await response.json();
      if (response.status !== 200 || !Number.isSafeInteger(body?.computerId)) {
        failures.push(`HTTP ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
        continue;
      }
      clients.push({
        cid: body.computerId,
        privateKey: pair.privateKey,
        nextSeq: 1,
        contentKey: null,
        contentKeyCreatedAt: 0,
        contentKeyMessages: 0,
      });
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, lane));
  clients.sort((a, b) => a.cid - b.cid);
  return {
    registered: clients.length,
    failures: failures.length,
    firstFailure: failures[0] ?? null,
    ms: performance.now() - started,
  };
}

async function prepare(
  command: Extract<Command, { cmd: "prepare" }>,
): Promise<Record<string, unknown>> {
  const started = performance.now();
  const serverKey = command.mode === "clear"
    ? null
    : await fetchServerKey(command.port!, command.masthead!, 10_000);
  let newContentKeys = 0;
  const rounds: Uint8Array[][] = Array.from({ length: command.perClient }, () => []);
  // Clients are independent: seal a few at once so that Web Crypto's thread pool has work.
  let next = 0;
  const lane = async () => {
    while (next < clients.length) {
      const client = clients[next++];
      for (let round = 0; round < command.perClient; round++) {
        const seq = client.nextSeq++;
        const bytes = encoder.encode(JSON.stringify(reportOf(client, seq)));
        let message;
        if (serverKey) {
          const { contentKey, isNew } = await nextContentKey(
            client,
            serverKey,
            command.mode !== "encrypt",
          );
          if (isNew) newContentKeys++;
          message = await sealReport(contentKey, client.privateKey, {
            cid: client.cid,
            seq,
          }, bytes);
        } else {
          message = await signReport(client.privateKey, { cid: client.cid, seq, kid: null }, bytes);
        }
        rounds[round].push(postRequest(API.reports, JSON.stringify(message)));
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  // Round-robin: every client's first report goes before any client's second.
  const prepared = rounds.flat();
  pools.set(command.pool, { requests: prepared, next: 0 });
  const bytes = prepared.reduce((sum, request) => sum + request.length, 0);
  return {
    prepared: prepared.length,
    newContentKeys,
    meanRequestBytes: Math.round(bytes / Math.max(1, prepared.length)),
    meanReportBytes: clients.length
      ? encoder.encode(JSON.stringify(reportOf(clients[0], 1))).length
      : 0,
    ms: performance.now() - started,
  };
}

/**
 * Prepares messages that must cost the server no RSA operation: each carries a fresh wrapped
 * content key (which would need one) but a signature that does not verify.
 */
async function forge(
  command: Extract<Command, { cmd: "forge" }>,
): Promise<Record<string, unknown>> {
  const serverKey = await fetchServerKey(command.port, command.masthead, 10_000);
  const forged: Uint8Array[] = [];
  for (let i = 0; i < command.count; i++) {
    const client = clients[i % clients.length];
    const { contentKey } = await createContentKey(serverKey.publicKey, serverKey.kid);
    const message = await sealReport(contentKey, client.privateKey, {
      cid: client.cid,
      seq: 1_000_000_000 + i,
    }, encoder.encode(JSON.stringify(reportOf(client, 1_000_000_000 + i))));
    // Flip one bit of the ciphertext after signing: the outer signature no longer verifies.
    const ciphertext = Uint8Array.fromBase64(message.ciphertext, { alphabet: "base64url" });
    ciphertext[0] ^= 1;
    message.ciphertext = encodeBase64Url(ciphertext);
    forged.push(postRequest(API.reports, JSON.stringify(message)));
  }
  pools.set(command.pool, { requests: forged, next: 0 });
  return { prepared: forged.length };
}

/** Reads one HTTP/1.1 response (content-length or chunked body); returns its status. */
class ResponseReader {
  readonly #conn: Deno.Conn;
  #buffer = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<void> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buffer.length) {
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buffer.length * 2);
        bigger.set(this.#buffer);
        this.#buffer = bigger;
      }
    }
    const read = await this.#conn.read(this.#buffer.subarray(this.#end));
    if (read === null) throw new Error("connection closed by the server");
    this.#end += read;
  }

  /** Index just past the next CRLF at or after `from`, or -1. */
  #lineEnd(from: number): number {
    for (let i = from; i + 1 < this.#end; i++) {
      if (this.#buffer[i] === 13 && this.#buffer[i + 1] === 10) return i + 2;
    }
    return -1;
  }

  async #line(): Promise<string> {
    let end;
    while ((end = this.#lineEnd(this.#start)) < 0) await this.#fill();
    const text = String.fromCharCode(...this.#buffer.subarray(this.#start, end - 2));
    this.#start = end;
    return text;
  }

  async #skip(count: number): Promise<void> {
    while (this.#end - this.#start < count) {
      count -= this.#end - this.#start;
      this.#start = this.#end;
      await this.#fill();
    }
    this.#start += count;
  }

  async read(): Promise<number> {
    const statusLine = await this.#line();
    const status = Number(statusLine.split(" ")[1]);
    let length = 0;
    let chunked = false;
    for (let line = await this.#line(); line !== ""; line = await this.#line()) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding") chunked = value.toLowerCase().includes("chunked");
    }
    if (!chunked) {
      await this.#skip(length);
      return status;
    }
    for (
      let size = parseInt(await this.#line(), 16);
      size > 0;
      size = parseInt(await this.#line(), 16)
    ) {
      await this.#skip(size + 2);
    }
    while ((await this.#line()) !== "") {
      // trailers
    }
    return status;
  }
}

async function run(command: Extract<Command, { cmd: "run" }>): Promise<Record<string, unknown>> {
  const pool = pools.get(command.pool);
  if (!pool) throw new Error(`no pool "${command.pool}": prepare it first`);
  const queue = pool.requests;
  const latencies = new Float64Array(queue.length - pool.next);
  const statuses: Record<string, number> = {};
  let done = 0;
  const started = performance.now();
  const deadline = started + command.durationMs;
  let lastAnswer = started;
  const lane = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: command.port });
    conn.setNoDelay(true);
    const reader = new ResponseReader(conn);
    try {
      while (pool.next < queue.length && performance.now() < deadline) {
        const request = queue[pool.next++];
        const sent = performance.now();
        let written = 0;
        while (written < request.length) written += await conn.write(request.subarray(written));
        const status = await reader.read();
        const answered = performance.now();
        latencies[done++] = answered - sent;
        lastAnswer = answered;
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    } finally {
      conn.close();
    }
  };
  await Promise.all(Array.from({ length: command.connections }, lane));
  const measured = latencies.subarray(0, done);
  return {
    sent: done,
    statuses,
    elapsedMs: lastAnswer - started,
    exhausted: pool.next >= queue.length,
    latencies: Array.from(measured, (ms) => Math.round(ms * 1000) / 1000),
  };
}

async function handle(command: Command): Promise<Record<string, unknown>> {
  switch (command.cmd) {
    case "register":
      return await register(command);
    case "prepare":
      return await prepare(command);
    case "forge":
      return await forge(command);
    case "run":
      return await run(command);
    case "drop":
      pools.delete(command.pool);
      return {};
    case "exit":
      Deno.exit(0);
  }
}

if (import.meta.main) {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let pending = "";
  for await (const chunk of lines) {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (!line.trim()) continue;
      let answer: Record<string, unknown>;
      try {
        answer = { ok: true, ...(await handle(JSON.parse(line) as Command)) };
      } catch (error) {
        answer = { ok: false, error: (error as Error).stack ?? String(error) };
      }
      await Deno.stdout.write(encoder.encode(JSON.stringify(answer) + "\n"));
    }
  }
}
