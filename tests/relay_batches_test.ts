/**
 * Relays forwarding in batches, with real processes on 127.0.0.1: a chain of relays sends the
 * clients' envelopes untouched, many per request, and the server checks each client's own
 * signature and stores each once; a data dir of the old spool layout is delivered after an upgrade.
 */

import assert from "node:assert/strict";
import { signReport } from "../envelope/report_message.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { API } from "../protocol/paths.ts";
import {
  createSite,
  freePort,
  postReport,
  RecordingProxy,
  registerSender,
  spooledMessages,
  startRelay,
  startServer,
  storedReports,
  waitForStored,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";

/** How many requests of each kind crossed a recording proxy. */
function requestsSeen(proxy: RecordingProxy): { batches: number; singles: number } {
  return {
    batches: proxy.text.split(`POST ${API.reportBatch} HTTP`).length - 1,
    singles: proxy.text.split(`POST ${API.reports} HTTP`).length - 1,
  };
}

Deno.test("a chain of relays forwards envelopes untouched in batches; the server checks each client's signature and stores each once", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  await using toServer = new RecordingProxy(site.serverPort);
  const parentPort = freePort();
  await using toParent = new RecordingProxy(parentPort);
  await using relays = new AsyncDisposableStack();
  const childPort = freePort();
  const parentDir = `${site.root}/parent-relay`;
  // The child's parent is not up yet: what the child accepts waits, then goes up together.
  relays.use(await startRelay(`${site.root}/child-relay`, childPort, toParent.port));
  const sender = await registerSender(site.serverPort);
  const reports = await Promise.all(
    Array.from({ length: 40 }, (_, i) => sender.report(i + 1)),
  );
  // A forgery: the sender's computer id and claims, signed by another key.
  const stranger = await generateSigningKeyPair();
  const forged = JSON.stringify(
    await signReport(
      stranger.privateKey,
      { cid: sender.computerId, seq: 41, kid: null },
      new TextEncoder().encode(JSON.stringify({ computerId: sender.computerId, seq: 41 })),
    ),
  );
  const answers = await Promise.all(
    [...reports, forged].map((body) => postReport(childPort, body)),
  );
  assert.deepEqual(answers.map((answer) => answer.status), Array(41).fill(202));
  await Promise.all(answers.map((answer) => answer.body?.cancel()));

  relays.use(await startRelay(parentDir, parentPort, toServer.port));
  const stored = await waitForStored(site, sender.computerId, 40);
  assert.deepEqual(stored.map((report) => report.seq), reports.map((_, i) => i + 1));
  // The forgery reached the server untouched, and the server refused it for good.
  const rejected = await eventually(async () => {
    const names = (await Array.fromAsync(Deno.readDir(`${parentDir}/rejected`)))
      .map((entry) => entry.name).filter((name) => name.endsWith(".reason"));
    return names.length === 1 ? names : undefined;
  }, "the forgery in the parent relay's rejected/");
  assert.match(
    await Deno.readTextFile(joinPath(`${parentDir}/rejected`, rejected[0])),
    /parent answered 403 ERR_SIGNATURE_INVALID/,
  );
  await eventually(
    async () =>
      (await spooledMessages(parentDir)).length === 0 &&
        (await spooledMessages(`${site.root}/child-relay`)).length === 0 || undefined,
    "both spools empty",
  );
  assert.equal((await storedReports(site, sender.computerId)).length, 40, "each stored once");

  // On both hops: batches, not one request per report.
  for (
    const [hop, proxy] of [["child → parent", toParent], ["parent → server", toServer]] as const
  ) {
    const seen = requestsSeen(proxy);
    assert.equal(seen.singles, 0, `${hop}: no report sent alone`);
    assert.ok(seen.batches >= 1 && seen.batches <= 4, `${hop}: ${seen.batches} batches for 41`);
    // Untouched: each client's envelope crossed byte for byte.
    for (const report of reports.slice(0, 3)) {
      assert.ok(proxy.text.includes(report), `${hop}: an envelope crossed unchanged`);
    }
  }
});

Deno.test("a relay upgraded over a spool of the old layout (one file per report) delivers every report", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const relayDir = `${site.root}/relay`;
  const sender = await registerSender(site.serverPort);
  await Deno.mkdir(`${relayDir}/spool`, { recursive: true, mode: 0o700 });
  for (let seq = 1; seq <= 5; seq++) {
    // The old relay's file names: acceptance time, a counter, random hex; `.json`.
    const id = `${String(Date.now() - 60_000).padStart(16, "0")}-${
      String(seq).padStart(6, "0")
    }-0000000${seq}`;
    await Deno.writeTextFile(`${relayDir}/spool/${id}.json`, await sender.report(seq), {
      mode: 0o600,
    });
  }
  await using _relay = await startRelay(relayDir, freePort(), site.serverPort);
  const stored = await waitForStored(site, sender.computerId, 5);
  assert.deepEqual(stored.map((report) => report.seq), [1, 2, 3, 4, 5]);
  await eventually(
    async () => (await spooledMessages(relayDir)).length === 0 || undefined,
    "the old spool drained",
  );
  const left = (await Array.fromAsync(Deno.readDir(`${relayDir}/spool`)))
    .filter((entry) => entry.name.endsWith(".json"));
  assert.deepEqual(left, [], "no old file is left");
});
