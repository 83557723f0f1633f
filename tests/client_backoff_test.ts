/**
 * The client's service under faults, with real processes on 127.0.0.1: `mle-client run` with an
 * hour's interval tries a busy parent again well before the hour, never before its `Retry-After`
 * (the times are the ones the parent saw), and stores the queued report once the parent takes
 * it; with every parent down, its retries come further and further apart.
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
  RecordingProxy,
  startServer,
  storedReports,
  type TestSite,
  waitForStored,
} from "./deployment.ts";
import { waitUntil } from "./eventually.ts";
import { RoleProcess } from "./run_role.ts";
import { TamperingProxy } from "./tampering_proxy.ts";

const HOUR_SECONDS = "3600";
// Longer than the first back-off (2.5 to 5 s): a client that ignored it would retry sooner.
const RETRY_AFTER_SECONDS = 6;

/**
 * Starts the client service (`mle-client run`) with an hour between cycles, through the parent
 * on `parentPort`: within a test, every cycle after the first is a retry.
 */
function startHourlyService(site: TestSite, clientDir: string, parentPort: number): RoleProcess {
  return new RoleProcess("client", [
    "run",
    "--interval",
    HOUR_SECONDS,
    ...clientConnectionArgs(site, clientDir, parentPort),
  ]);
}

Deno.test("mle-client run tries a busy parent again well before --interval, never before its Retry-After, and its queued report is stored once the parent takes it", async () => {
  await using site = await createSite();
  const serverPort = freePort();
  await using _server = await startServer({ ...site, serverPort });
  // The parent stands at the masthead's address: the client has no way to the server around it.
  await using parent = new TamperingProxy(serverPort, { port: site.serverPort });
  const reportPosts: number[] = [];
  parent.tamper = async (request, forward) => {
    if (request.method !== "POST" || request.path.split("?")[0] !== API.reports) {
      return await forward();
    }
    reportPosts.push(Date.now());
    if (reportPosts.length > 2) return await forward();
    return Response.json(
      errorBody("ERR_RETRY_LATER", "Cannot store now: retry after Retry-After"),
      {
        status: 503,
        headers: { "retry-after": String(RETRY_AFTER_SECONDS) },
      },
    );
  };
  const clientDir = `${site.root}/client`;
  await using service = startHourlyService(site, clientDir, site.serverPort);

  await waitUntil(() => reportPosts.length >= 3, "a third report request", 90_000);
  const gaps = reportPosts.slice(1).map((at, index) => at - reportPosts[index]);
  for (const gap of gaps) {
    assert.ok(
      gap >= RETRY_AFTER_SECONDS * 1000,
      `retried ${gap} ms after a Retry-After of ${RETRY_AFTER_SECONDS} s`,
    );
    assert.ok(gap < 60_000, `retried ${gap} ms later: the back-off, not the hour's interval`);
  }
  await service.waitFor(
    new RegExp(`next cycle in \\d+ s: parent busy, Retry-After ${RETRY_AFTER_SECONDS} s`),
  );

  const computerId = await computerIdOf(clientDir);
  const stored = await waitForStored(site, computerId, 1);
  // The retries made no report of their own: the one report of the hour, stored once.
  assert.deepEqual(stored.map((report) => report.seq), [1]);
  const answers = parent.answersTo("POST", API.reports).map((answer) => answer.status);
  assert.equal(answers.length, 1, "only the third request reached the server");
  assert.ok(answers[0] >= 200 && answers[0] < 300, `the server answered ${answers[0]}`);
  await waitUntil(
    async () => /^delivered; /.test((await nextCycleOf(clientDir))?.reason ?? ""),
    "status naming the next cycle after the delivery",
  );
  const waitMs = Date.parse((await nextCycleOf(clientDir))!.at) - Date.now();
  assert.ok(waitMs > 3_000_000, `after a delivery the interval again (next in ${waitMs} ms)`);
  assert.equal((await storedReports(site, computerId)).length, 1);
});

Deno.test("mle-client run backs off further after each cycle in which every parent is down", async () => {
  await using site = await createSite(); // no server: the masthead's address answers nothing
  await using relay = new RecordingProxy(site.serverPort);
  relay.cut(); // the parent named by --parent takes connections and drops them
  const clientDir = `${site.root}/client`;
  await using _service = startHourlyService(site, clientDir, relay.port);

  // A cycle's connections come together; the cycles are the bursts the parent saw.
  const cycles = () =>
    relay.connectedAt.filter((at, index) =>
      index === 0 || at - relay.connectedAt[index - 1] > 1_000
    );
  await waitUntil(() => cycles().length >= 4, "four cycles at the parent", 120_000);
  const starts = cycles();
  const gaps = starts.slice(1, 4).map((at, index) => at - starts[index]);
  for (const gap of gaps) {
    assert.ok(gap >= 2_000, `the back-off starts at 2.5 to 5 s, not ${gap} ms`);
    assert.ok(gap < 60_000, `retried ${gap} ms later: the back-off, not the hour's interval`);
  }
  // Doubling from 2.5-5 s: the third wait (10-20 s) is longer than the first (2.5-5 s).
  assert.ok(gaps[2] > gaps[0], `the waits grow: ${gaps.join(", ")} ms`);

  assert.match(
    (await nextCycleOf(clientDir))?.reason ?? "",
    /^no parent answered \(\d+ failed cycles in a row\)/,
  );
  const queued = (await clientStatus(clientDir)).queueDepth;
  assert.equal(queued, 1, "retries send what is queued and make no new report");
});

/** When the client's status says its service's next cycle comes, and why. */
async function nextCycleOf(clientDir: string): Promise<{ at: string; reason: string } | null> {
  return (await clientStatus(clientDir)).nextCycle as { at: string; reason: string } | null;
}
