/**
 * Operating the roles, with real processes: Prometheus metrics, `/healthz` and `/readyz` on the
 * operations listeners of the server and a relay; a report followed by its request id from the
 * client's run log through the relay to the server; JSON log lines; rotated log files; the
 * client's run log.
 */

import assert from "node:assert/strict";
import { API, OPS_PATHS } from "../protocol/paths.ts";
import {
  clientReport,
  clientStatus,
  createSite,
  createSiteWithKey,
  freePort,
  metricValue,
  opsGet,
  opsPortOf,
  postReport,
  registerSender,
  startRelay,
  startServer,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("the server and a relay serve Prometheus metrics on their operations listeners, and a report is followed by its request id from the client's log through the relay to the server", async () => {
  await using site = await createSiteWithKey();
  await using server = await startServer(site, ["--log-level", "debug", "--log-format", "json"]);
  const relayPort = freePort();
  await using relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    "--log-level",
    "debug",
  ]);
  const relayOps = opsPortOf(relay);
  const clientDir = `${site.root}/client`;
  const sent = await clientReport(site, clientDir, relayPort, ["--encryption", "required"]);
  assert.equal(sent.code, 0, sent.stderr);

  // The client's run log names the cycle's request id …
  const clientLog = await Deno.readTextFile(`${clientDir}/logs/mle-client.log`);
  const cycle = /info mle-client cycle delivered .*requestId=(\S+)/.exec(clientLog);
  assert.ok(cycle, clientLog);
  const clientRequestId = cycle[1];
  assert.match(clientRequestId, UUID);
  // … the relay names it beside the spool id it passes on upstream …
  const spooled = new RegExp(`report spooled id=(\\S+) .*requestId=${clientRequestId}`)
    .exec(relay.stderr);
  assert.ok(spooled, relay.stderr);
  const spoolId = spooled[1];
  // … which goes upstream alone (the request id is the spool id) or in a batch (the relay's
  // line maps the batch's request id to the spool ids it carries) …
  const upstreamIds = () => [
    spoolId,
    ...[...relay.stderr.matchAll(/reports forwarded in a batch requestId=(\S+) ids=(\S+)/g)]
      .filter((match) => match[2].split(",").includes(spoolId)).map((match) => match[1]),
  ];
  // … and the server's JSON log line of the stored report names that one.
  const stored = await eventually(() => {
    const lines = server.stderr.split("\n").filter((line) => line.startsWith("{"));
    const ids = upstreamIds();
    return lines.map((line) => JSON.parse(line)).find((line) =>
      line.message === "report stored" && ids.includes(line.requestId)
    );
  }, "the server's log line of the stored report");
  assert.equal(stored.level, "debug");
  assert.equal(stored.tool, "mle-server");
  assert.equal(typeof stored.cid, "number");

  const serverText = (await opsGet(server.opsPort, OPS_PATHS.prometheus)).text;
  assert.equal(metricValue(serverText, 'mle_reports_stored_total{encryption="encrypted"}'), 1);
  assert.equal(metricValue(serverText, 'mle_reports_stored_total{encryption="clear"}'), 0);
  assert.equal(metricValue(serverText, "mle_rsa_private_operations_total"), 1);
  // The relay sends it alone, or in a batch to a parent that takes batches (this server).
  const answered = (route: string) =>
    metricValue(
      serverText,
      `mle_http_requests_total{route="${route}",status="200",code="none"}`,
    ) ??
      0;
  const timed = (route: string) =>
    metricValue(serverText, `mle_http_request_duration_seconds_count{route="${route}"}`) ?? 0;
  assert.equal(answered("reports") + answered("reportBatch"), 1);
  assert.equal(timed("reports") + timed("reportBatch"), 1);
  assert.equal(metricValue(serverText, "mle_commit_duration_seconds_count"), 1);
  assert.ok(metricValue(serverText, "mle_process_resident_memory_bytes")! > 0);
  assert.ok(metricValue(serverText, "mle_event_loop_lag_seconds")! >= 0);

  const relayText = await eventually(async () => {
    const text = (await opsGet(relayOps, OPS_PATHS.prometheus)).text;
    return metricValue(text, 'mle_relay_forwarded_total{outcome="delivered"}') === 1
      ? text
      : undefined;
  }, "the relay's count of the delivered report");
  assert.equal(metricValue(relayText, "mle_relay_spool_messages"), 0);
  assert.equal(metricValue(relayText, "mle_relay_spool_oldest_age_seconds"), 0);
  assert.equal(metricValue(relayText, "mle_relay_parent_up"), 1);
  assert.equal(metricValue(relayText, "mle_relay_forwarder_backing_off"), 0);
  assert.equal(
    metricValue(relayText, 'mle_http_requests_total{route="reports",status="202",code="none"}'),
    1,
  );
  assert.equal(metricValue(relayText, "mle_relay_upload_buffer_bytes"), 0);
  assert.ok(metricValue(relayText, "mle_process_resident_memory_bytes")! > 0);

  // A refusal is counted by its code; the request id is echoed when well-formed, else replaced.
  const refused = await fetch(`http://127.0.0.1:${site.serverPort}${API.reports}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "ops-test-1" },
    body: "{}",
  });
  assert.equal(refused.status, 400);
  const code = (await refused.json()).error.code;
  assert.equal(refused.headers.get("x-request-id"), "ops-test-1");
  const replaced = await fetch(`http://127.0.0.1:${site.serverPort}${API.capabilities}`, {
    headers: { "x-request-id": "x".repeat(65) },
  });
  await replaced.body?.cancel();
  assert.match(replaced.headers.get("x-request-id") ?? "", UUID);
  const afterRefusal = (await opsGet(server.opsPort, OPS_PATHS.prometheus)).text;
  assert.equal(
    metricValue(
      afterRefusal,
      `mle_http_requests_total{route="reports",status="400",code="${code}"}`,
    ),
    1,
  );

  // Health and readiness; nothing of it on the port clients reach.
  assert.equal((await opsGet(server.opsPort, OPS_PATHS.health)).status, 200);
  assert.deepEqual(JSON.parse((await opsGet(server.opsPort, OPS_PATHS.ready)).text), {
    status: "ready",
  });
  assert.equal((await opsGet(relayOps, OPS_PATHS.ready)).status, 200);
  for (const path of [OPS_PATHS.prometheus, OPS_PATHS.ready, OPS_PATHS.health]) {
    assert.equal((await opsGet(site.serverPort, path)).status, 404, path);
    assert.equal((await opsGet(relayPort, path)).status, 404, path);
  }
});

Deno.test("a relay's /readyz fails until its parent answers and again once it stops answering, while the metrics show the spool growing", async () => {
  const site = await createSite();
  const relayPort = freePort();
  const relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    "--parent-probe-interval",
    "1",
  ]);
  const relayOps = opsPortOf(relay);
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    assert.equal((await opsGet(relayOps, OPS_PATHS.health)).status, 200);
    const notReady = await eventually(async () => {
      const answer = await opsGet(relayOps, OPS_PATHS.ready);
      return answer.status === 503 ? JSON.parse(answer.text) : undefined;
    }, "a relay without its parent to say it is not ready");
    assert.equal(notReady.status, "not ready");
    assert.match(notReady.reasons.join(" "), /the parent was not reached since start/);

    server = await startServer(site);
    await eventually(
      async () => (await opsGet(relayOps, OPS_PATHS.ready)).status === 200 || undefined,
      "the relay to be ready once its parent answers",
    );
    const sender = await registerSender(relayPort);
    await server.stop();
    server = null;
    const answer = await postReport(relayPort, await sender.report(1));
    assert.equal(answer.status, 202);

    const stale = await eventually(async () => {
      const ready = await opsGet(relayOps, OPS_PATHS.ready);
      return ready.status === 503 ? JSON.parse(ready.text) : undefined;
    }, "the relay to say its parent is gone");
    assert.match(stale.reasons.join(" "), /the parent was last reached \d+ s ago/);
    const text = await eventually(async () => {
      const text = (await opsGet(relayOps, OPS_PATHS.prometheus)).text;
      return metricValue(text, "mle_relay_forwarder_backing_off") === 1 &&
          metricValue(text, "mle_relay_spool_oldest_age_seconds")! > 0
        ? text
        : undefined;
    }, "the metrics to show the waiting report and the back-off");
    assert.equal(metricValue(text, "mle_relay_spool_messages"), 1);
    assert.ok(metricValue(text, "mle_relay_spool_bytes")! > 0);
    assert.equal(metricValue(text, "mle_relay_parent_up"), 0);
    assert.ok(metricValue(text, 'mle_relay_forwarded_total{outcome="failure"}')! >= 1);
  } finally {
    await relay.stop();
    await server?.stop();
    await Deno.remove(site.root, { recursive: true });
  }
});

Deno.test("--log-file rotates by size and keeps --log-keep older files", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const relayPort = freePort();
  const logFile = `${site.root}/relay.log`;
  await using relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    "--log-level",
    "debug",
    "--log-file",
    logFile,
    "--log-max-size",
    "1K",
    "--log-keep",
    "2",
  ]);
  const sender = await registerSender(relayPort);
  for (let seq = 1; seq <= 30; seq++) {
    const answer = await postReport(relayPort, await sender.report(seq));
    assert.equal(answer.status, 202);
  }
  await eventually(async () => {
    // Between a rotation's renames the file is briefly absent: that is "not yet".
    const text = await Deno.readTextFile(logFile).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return "";
      throw error;
    });
    return text.includes("message delivered") || undefined;
  }, "the relay to log deliveries");
  // The relay goes on logging while it runs, and a rotation renames the files one by one: the
  // files are looked at once it has stopped and written its last line.
  await relay.stop();
  for (const path of [logFile, `${logFile}.1`, `${logFile}.2`]) {
    const info = await Deno.stat(path);
    assert.ok(info.size <= 1024, `${path}: ${info.size} bytes`);
    assert.equal(info.mode! & 0o077, 0, `${path} is the owner's only`);
  }
  await assert.rejects(Deno.stat(`${logFile}.3`), Deno.errors.NotFound);
  assert.match(await Deno.readTextFile(`${logFile}.1`), / debug mle-relay /);
});

Deno.test("mle-client logs a failed run to its data dir by default, and status names the file", async () => {
  await using site = await createSite();
  const clientDir = `${site.root}/client`;
  // Nothing listens on the server's port: the run fails, and the log says so afterwards.
  const failed = await clientReport(site, clientDir, site.serverPort, ["--quiet"]);
  assert.equal(failed.code, 4, failed.stderr);
  const logFile = `${clientDir}/logs/mle-client.log`;
  const log = await Deno.readTextFile(logFile);
  assert.match(log, / info mle-client report started /);
  assert.match(log, / warn mle-client cycle unreachable .*queued=1/);
  assert.match(log, / warn mle-client report finished exitCode=4/);
  assert.equal((await Deno.stat(logFile)).mode! & 0o077, 0);

  const status = await clientStatus(clientDir);
  assert.equal(status.logFile, logFile);

  const elsewhere = `${site.root}/elsewhere.log`;
  const json = await clientReport(site, clientDir, site.serverPort, [
    "--log-file",
    elsewhere,
    "--log-format",
    "json",
  ]);
  assert.equal(json.code, 4);
  const lines = (await Deno.readTextFile(elsewhere)).trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.some((line) => line.message === "report finished" && line.exitCode === 4));
});
