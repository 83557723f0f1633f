/**
 * Outages and herds, with real processes on 127.0.0.1 (bounded; the measured figures come from
 * `npm run herd`): while the server is away a relay spools within its bound and drains once it is
 * back; clients that found the server away all deliver after it returns, backing off with the
 * relays' own back-off.
 */

import assert from "node:assert/strict";
import { runHerd } from "../scripts/herd.ts";
import {
  createSite,
  freePort,
  registerSender,
  type ServerProcess,
  spooledMessages,
  startRelay,
  startServer,
  storedReports,
  type TestSender,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";

async function senders(port: number, count: number): Promise<TestSender[]> {
  return await Promise.all(Array.from({ length: count }, () => registerSender(port)));
}

Deno.test("clients that found the server away all deliver once it returns, and so does a relay's spool", async () => {
  const site = await createSite();
  let server: ServerProcess = await startServer(site);
  const relayPort = freePort();
  const relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    "--spool-max-size",
    "4M",
  ]);
  try {
    const direct = await senders(site.serverPort, 100);
    const throughRelay = await senders(site.serverPort, 50);
    const outage = {
      name: "server-away",
      stop: async () => void await server.stop("SIGKILL"),
      start: async () => void (server = await startServer(site)),
      ms: 1_000,
    };
    const herd = await runHerd({
      site,
      port: site.serverPort,
      senders: direct,
      jitter: true,
      outage,
      timeoutMs: 60_000,
    });
    assert.equal(herd.delivered, direct.length, JSON.stringify(herd));

    // The relay accepts while the server is away (its spool holds them) and drains after.
    const spooled = await runHerd({
      site,
      port: relayPort,
      senders: throughRelay,
      jitter: true,
      outage: { ...outage, ms: 2_000 },
      timeoutMs: 60_000,
    });
    assert.equal(spooled.delivered, throughRelay.length, JSON.stringify(spooled));
    for (const sender of [...direct, ...throughRelay]) {
      await eventually(
        async () => (await storedReports(site, sender.computerId)).length === 1 ? true : undefined,
        `the report of computer ${sender.computerId} stored`,
        60_000,
      );
    }
    await eventually(
      async () => (await spooledMessages(`${site.root}/relay`)).length === 0 ? true : undefined,
      "the relay's spool drained",
    );
  } finally {
    await relay.stop();
    await server.stop();
    await Deno.remove(site.root, { recursive: true });
  }
});
