/**
 * `npm run herd`: a thundering herd after an outage, measured. Many simulated clients (1,000 by
 * default), each with its own key and one report to send, find the server unable to take it; each
 * backs off with the relays' own back-off (`relay/_delivery_backoff.ts` over `protocol/backoff.ts`:
 * doubling from 500 ms to 30 s, or the parent's `Retry-After` with jitter above it), with its
 * jitter or without it (every delay its floor: half the back-off's ceiling, or `Retry-After`
 * exactly). Two outages: the server away (`kill -9`, no answer at all), and the server's disk
 * full (every report answered 503 `ERR_STORAGE_FULL` with `Retry-After: 15`, until the space is
 * freed). When the server can store again, the script counts the requests that reached it in
 * each 100 ms window and prints the peak rate and the time until every report was stored, for each
 * run. The last line is JSON.
 *
 * Usage: deno run --allow-all scripts/herd.ts [--clients N] [--outage-s S]
 *   --clients N    simulated clients, 1 to 100000 (default 1000)
 *   --outage-s S   whole seconds each outage lasts, 0 to 3600 (default 10)
 *
 * @module
 */

import { readInteger } from "../cli/flags.ts";
import { silentLogger } from "../cli/log.ts";
import { errorCodeOf } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { storageFullAnswer } from "../protocol/storage_full.ts";
import { parseRetryAfter } from "../protocol/upload_fetch.ts";
import { DeliveryBackoff } from "../relay/_delivery_backoff.ts";
import {
  createSite,
  registerSender,
  startServer,
  type TestSender,
  type TestSite,
} from "../tests/deployment.ts";
import type { RoleProcess } from "../tests/run_role.ts";
import { readScriptOptions } from "./script_flags.ts";

/** What one herd run measured. */
export interface HerdResult {
  /** What kept the reports out: `server-away` (no answer) or `disk-full` (503 with Retry-After). */
  outage: string;
  jitter: boolean;
  clients: number;
  delivered: number;
  /** Requests answered by the server in its busiest 100 ms after the outage, per second. */
  peak_requests_per_s: number;
  /** Requests the server answered after the outage, all told (503s included). */
  requests_after_outage: number;
  /** Seconds from the server's return until every report was delivered. */
  drain_s: number;
}

/** Options of {@linkcode runHerd}. */
export interface HerdOptions {
  site: TestSite;
  /** The port the clients send to (the server's, or a relay's). */
  port: number;
  senders: TestSender[];
  jitter: boolean;
  /**
   * Makes the server (or what `port` leads to) unable to store and able again: its `name` goes
   * into the result.
   */
  outage: { name: string; stop: () => Promise<void>; start: () => Promise<void>; ms: number };
  /** Give up after this long (default 5 minutes). */
  timeoutMs?: number;
}

/**
 * One herd: every sender sends one report while the server is away, backs off, and sends again
 * when its back-off says so; resolves once all were delivered (2xx, or 409 duplicate) or timed out.
 */
export async function runHerd(options: HerdOptions): Promise<HerdResult> {
  const { senders, port } = options;
  const seq = Date.now() % 1_000_000_000;
  const bodies = await Promise.all(senders.map((sender) => sender.report(seq)));
  let delivered = 0;
  let serverBack = Infinity;
  const answeredAt: number[] = [];
  let allDelivered: () => void;
  const done = new Promise<void>((resolve) => allDelivered = resolve);
  await options.outage.stop();
  const backoffs: DeliveryBackoff[] = [];
  const attempt = async (index: number) => {
    let answer: Response | null = null;
    try {
      answer = await fetch(`http://127.0.0.1:${port}${API.reports}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: bodies[index],
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      answer = null;
    }
    if (answer !== null) {
      answeredAt.push(Date.now());
      const body = await answer.json().catch(() => null);
      if (
        (answer.status >= 200 && answer.status < 300) ||
        (answer.status === 409 && errorCodeOf(body) === "ERR_DUPLICATE_REPORT")
      ) {
        backoffs[index].answered();
        if (++delivered === senders.length) allDelivered();
        return;
      }
    }
    backoffs[index].failed(
      answer === null ? "no answer" : `HTTP ${answer.status}`,
      parseRetryAfter(answer?.headers.get("retry-after") ?? null),
    );
  };
  for (let i = 0; i < senders.length; i++) {
    backoffs.push(
      new DeliveryBackoff({
        minMs: 500,
        maxMs: 30_000,
        // Without jitter every delay is its floor: clients that failed together retry together.
        random: options.jitter ? Math.random : () => 0,
        log: silentLogger,
        waiting: () => 1,
        onRetry: () => void attempt(i),
      }),
    );
  }
  await Promise.all(senders.map((_, i) => attempt(i)));
  await new Promise((resolve) => setTimeout(resolve, options.outage.ms));
  await options.outage.start();
  serverBack = Date.now();
  const timeout = new Promise<void>((resolve) =>
    setTimeout(resolve, options.timeoutMs ?? 5 * 60_000)
  );
  await Promise.race([done, timeout]);
  const drainMs = Date.now() - serverBack;
  for (const backoff of backoffs) backoff.stop();
  const windows = new Map<number, number>();
  for (const at of answeredAt) {
    if (at < serverBack) continue;
    const window = Math.floor((at - serverBack) / 100);
    windows.set(window, (windows.get(window) ?? 0) + 1);
  }
  return {
    outage: options.outage.name,
    jitter: options.jitter,
    clients: senders.length,
    delivered,
    peak_requests_per_s: Math.max(0, ...windows.values()) * 10,
    requests_after_outage: answeredAt.filter((at) => at >= serverBack).length,
    drain_s: Math.round(drainMs / 100) / 10,
  };
}

/** Registers `count` senders with the server, 50 at a time. */
async function registerSenders(port: number, count: number): Promise<TestSender[]> {
  const senders: TestSender[] = [];
  while (senders.length < count) {
    const batch = Math.min(50, count - senders.length);
    senders.push(...await Promise.all(Array.from({ length: batch }, () => registerSender(port))));
  }
  return senders;
}

/** Both herd runs (without jitter, then with it) of the server away: killed, then started again. */
async function herdServerAway(clients: number, outageMs: number): Promise<HerdResult[]> {
  const site = await createSite();
  let server: RoleProcess = await startServer(site);
  try {
    return await herdWithoutAndWithJitter(site, clients, {
      name: "server-away",
      stop: async () => void await server.stop("SIGKILL"),
      start: async () => void (server = await startServer(site)),
      ms: outageMs,
    });
  } finally {
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
}

/** The herd without jitter, then with it, through `outage`; each run's result also on stderr. */
async function herdWithoutAndWithJitter(
  site: TestSite,
  clients: number,
  outage: HerdOptions["outage"],
): Promise<HerdResult[]> {
  const results: HerdResult[] = [];
  for (const jitter of [false, true]) {
    results.push(
      await runHerd({
        site,
        port: site.serverPort,
        senders: await registerSenders(site.serverPort, clients),
        jitter,
        outage,
      }),
    );
    console.error(`herd: ${JSON.stringify(results.at(-1))}`);
  }
  return results;
}

/**
 * Both herd runs of the server answering the herd's first reports 503 `ERR_STORAGE_FULL` with
 * `Retry-After: 15`, its own full-disk answer (`protocol/storage_full.ts`), until the space is
 * freed. A stand-in serves that answer on the server's port during the outage, so that every sender
 * gets it: a really full disk lets a varying share of reports in through SQLite's log pages
 * (`tests/full_disk_test.ts` proves the real server's answer). Every sender's next attempt comes
 * after the real server is back.
 */
async function herdDiskFull(clients: number, outageMs: number): Promise<HerdResult[]> {
  const site = await createSite();
  let server: RoleProcess = await startServer(site);
  let standIn: Deno.HttpServer | null = null;
  try {
    return await herdWithoutAndWithJitter(site, clients, {
      name: "disk-full",
      stop: async () => {
        await server.stop("SIGKILL");
        standIn = Deno.serve({
          hostname: "127.0.0.1",
          port: site.serverPort,
          onListen: () => {},
        }, () => {
          const full = storageFullAnswer();
          return Response.json(full.body, { status: full.status, headers: full.headers });
        });
      },
      start: async () => {
        await standIn?.shutdown();
        standIn = null;
        server = await startServer(site);
      },
      ms: outageMs,
    });
  } finally {
    await (standIn as Deno.HttpServer | null)?.shutdown();
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
}

async function main(): Promise<number> {
  const { clients, outageMs } = readScriptOptions(Deno.args, {
    tool: "herd",
    flags: { clients: { type: "string" }, "outage-s": { type: "string" } },
    read: (values) => ({
      clients: readInteger("clients", values.clients, 1000, { min: 1, max: 100_000 }),
      outageMs: readInteger("outage-s", values["outage-s"], 10, {
        min: 0,
        max: 3600,
        unit: "whole seconds",
      }) * 1000,
    }),
  });
  const results = [
    ...await herdServerAway(clients, outageMs),
    ...await herdDiskFull(clients, outageMs),
  ];
  console.log(JSON.stringify({ outage_s: outageMs / 1000, runs: results }));
  return results.every((r) => r.delivered === r.clients) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
