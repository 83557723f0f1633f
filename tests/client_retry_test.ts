/**
 * `mle-client run` when no parent takes its reports, as real processes on 127.0.0.1: after a 503
 * with `Retry-After` it tries again long before its interval and never before the parent asked;
 * with its parent away the gaps between its cycles grow; once the parent takes reports, the
 * queued ones are stored and the next cycle waits the interval again.
 */

import assert from "node:assert/strict";
import { errorBody } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import {
  clientConnectionArgs,
  clientStatus,
  computerIdOf,
  createSite,
  freePort,
  startServer,
  waitForStored,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { RoleProcess } from "./run_role.ts";
import { TamperingProxy } from "./tampering_proxy.ts";

/** A client service reporting every hour, its one parent on `parentPort`. */
function hourlyClient(site: Parameters<typeof clientConnectionArgs>[0], parentPort: number) {
  const clientDir = `${site.root}/client`;
  const process = new RoleProcess("client", [
    "run",
    "--interval",
    "3600",
    ...clientConnectionArgs(site, clientDir, parentPort),
  ]);
  return { clientDir, process };
}

Deno.test("mle-client run tries a busy parent again after its Retry-After, not its interval, and never before", async () => {
  await using site = await createSite();
  // The masthead names the site's server port: the proxy listens there, so that the client has
  // one parent (the masthead's last resort is the same URL) and the server sits behind it.
  const backendPort = freePort();
  await using _server = await startServer({ ...site, serverPort: backendPort });
  await using proxy = new TamperingProxy(backendPort, site.serverPort);
  const busyAt: number[] = [];
  proxy.tamper = async (request, forward) => {
    if (request.method === "POST" && request.path === API.reports && busyAt.length < 2) {
      busyAt.push(Date.now());
      return new Response(JSON.stringify(errorBody("ERR_SPOOL_FULL", "busy")), {
        status: 503,
        headers: { "content-type": "application/json", "retry-after": "2" },
      });
    }
    return await forward();
  };
  const { clientDir, process } = hourlyClient(site, site.serverPort);
  await using _client = process;
  await process.waitFor("registered as computer");
  const computerId = await computerIdOf(clientDir);
  await waitForStored(site, computerId, 1);
  assert.equal(busyAt.length, 2);
  assert.ok(busyAt[1] - busyAt[0] >= 2_000, `tried again after ${busyAt[1] - busyAt[0]} ms`);
  const status = await eventually(async () => {
    const status = await clientStatus(clientDir);
    const next = status.nextCycle as { why: string } | null;
    return next?.why === "the interval" ? status : undefined;
  }, "the next cycle an interval away once the report went");
  assert.equal(status.queueDepth, 0);
});

Deno.test("mle-client run with its parent away tries again sooner than its interval, the gaps growing", async () => {
  await using site = await createSite();
  // Nothing answers at the parent: every connection is accepted and closed at once.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: site.serverPort });
  const attempts: number[] = [];
  const accepting = (async () => {
    for await (const connection of listener) {
      attempts.push(Date.now());
      connection.close();
    }
  })();
  const { clientDir, process } = hourlyClient(site, site.serverPort);
  try {
    await using _client = process;
    const status = await eventually(
      async () => {
        const status = await clientStatus(clientDir);
        const next = status.nextCycle as { why: string } | null;
        return next?.why.includes("failure 3 in a row") ? status : undefined;
      },
      "three cycles in a row without a parent",
      60_000,
    );
    assert.equal(status.computerId, null);
    // A cycle's connections come together; cycles are seconds apart.
    const cycles = attempts.filter((at, index) => index === 0 || at - attempts[index - 1] > 1_000);
    assert.ok(cycles.length >= 3, `cycles at ${cycles}`);
    const gaps = cycles.slice(1).map((at, index) => at - cycles[index]);
    assert.ok(gaps[0] < 60_000, `first retry after ${gaps[0]} ms`);
    assert.ok(gaps[1] >= gaps[0] - 250, `gaps ${gaps.join(", ")} ms`);
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});
