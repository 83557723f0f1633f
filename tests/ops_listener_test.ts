/**
 * The server's operations listener, with a real server process: the counters and the health
 * check are served there (loopback by default) and no longer on the port that clients reach.
 */

import assert from "node:assert/strict";
import { API, OPS_PATHS } from "../protocol/paths.ts";
import { RoleProcess, runRole } from "./run_role.ts";
import { createSite, freePort, serverMetrics, serverRunArgs, startServer } from "./deployment.ts";

Deno.test("the public port answers 404 for the metrics; the operations listener serves them and /healthz", async () => {
  await using site = await createSite();
  await using server = await startServer(site);
  const publicPort = `http://127.0.0.1:${site.serverPort}`;
  for (const path of [API.metrics, OPS_PATHS.health]) {
    const response = await fetch(`${publicPort}${path}`);
    const body = await response.json();
    assert.equal(response.status, 404, path);
    assert.equal(body.error.code, "ERR_NOT_FOUND", path);
  }
  // The public port still serves the clients (proves it is the server's, and up).
  const capabilities = await fetch(`${publicPort}${API.capabilities}`);
  assert.equal((await capabilities.json()).role, "server");

  assert.notEqual(server.opsPort, site.serverPort);
  const ops = `http://127.0.0.1:${server.opsPort}`;
  const metrics = await serverMetrics(server);
  assert.equal(metrics.rsaPrivateOps, 0);
  assert.equal(metrics.reportsStored, 0);
  const health = await fetch(`${ops}${OPS_PATHS.health}`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  // The operations listener serves nothing of the clients' API.
  const reports = await fetch(`${ops}${API.reports}`, { method: "POST", body: "{}" });
  assert.equal(reports.status, 404);
  assert.equal((await reports.json()).error.code, "ERR_NOT_FOUND");
  const masthead = await fetch(`${ops}${API.masthead}`);
  assert.equal(masthead.status, 404);
  await masthead.body?.cancel();
});

Deno.test("mle-server run --ops-listen: a chosen port; the clients' port refused; bad values exit 2", async () => {
  await using site = await createSite();
  const opsPort = freePort();
  const server = await startServer(site, ["--ops-listen", `127.0.0.1:${opsPort}`]);
  try {
    assert.equal(server.opsPort, opsPort);
    assert.match(
      server.stderr,
      new RegExp(`operations listener on http://127\\.0\\.0\\.1:${opsPort}`),
    );
    assert.ok(!server.stderr.includes("reachable from other hosts"), server.stderr);
    assert.equal((await serverMetrics(server)).keysLoaded, 0);
  } finally {
    await server.stop();
  }
  for (
    const [value, message] of [
      [`127.0.0.1:${site.serverPort}`, /Cannot serve operations on the port clients reach/],
      ["127.0.0.1:99999", /port must be 0 to 65535/],
      ["not an address", /is not a host name or IP address/],
    ] as const
  ) {
    const refused = await runRole("server", serverRunArgs(site, ["--ops-listen", value]));
    assert.equal(refused.code, 2, `${value}: ${refused.stderr}`);
    assert.match(refused.stderr, message, value);
    assert.match(refused.stderr, /^mle-server: error: /m, value);
  }
});

Deno.test("mle-server run warns when its operations listener is reachable from other hosts", async () => {
  await using site = await createSite();
  await using server = new RoleProcess(
    "server",
    serverRunArgs(site, ["--ops-listen", "0.0.0.0:0", "--console-listen", "off"]),
  );
  await server.waitFor("listening on");
  assert.match(
    server.stderr,
    /warn mle-server the operations listener is reachable from other hosts/,
  );
});

Deno.test("mle-server --help documents --ops-listen and its loopback default", async () => {
  const help = await runRole("server", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--ops-listen HOST:PORT/);
  assert.match(help.stdout, /default 127\.0\.0\.1:52312/);
});
