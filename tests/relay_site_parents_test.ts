/**
 * A relay's parents with real processes on 127.0.0.1: the site-signed `__RelayServer1` re-homes a
 * relay started with `--parent A` to B, which then takes its reports and its other traffic (a
 * document for the client alone keeps the client on the relay, as an operator would); A
 * answering again does not take them back (the site's order wins), and the `--parent` list stays
 * the fallback: B cut off, A takes over, B back, the relay returns to it. A and B are recording
 * proxies in front of one server, so the test sees on the wire which parent each request took.
 */

import assert from "node:assert/strict";
import { API } from "../protocol/paths.ts";
import {
  clientReport,
  computerIdOf,
  createSite,
  freePort,
  setSettings,
  startRelay,
  startServer,
  storedReports,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { RecordingProxy } from "./recording_proxy.ts";

const url = (port: number) => `http://127.0.0.1:${port}`;
const REPORT_POST = `POST ${API.reports}`;

Deno.test("a signed __RelayServer1 re-homes a relay started with --parent A to B, which takes its reports; its --parent list stays the fallback order", async () => {
  const site = await createSite();
  const server = await startServer(site);
  const a = new RecordingProxy(site.serverPort);
  const b = new RecordingProxy(site.serverPort);
  const relayPort = freePort();
  const relay = await startRelay(`${site.root}/relay`, relayPort, a.port, [
    "--revocation-interval",
    "1",
    "--parent-probe-interval",
    "1",
  ]);
  const clientDir = `${site.root}/client`;
  let sent = 0;
  /** One report through the relay, waited for at the server. */
  const reportThroughRelay = async () => {
    const result = await clientReport(site, clientDir, relayPort);
    assert.equal(result.code, 0, result.stderr);
    sent += 1;
    const computerId = await computerIdOf(clientDir);
    await eventually(
      async () => (await storedReports(site, computerId)).length === sent ? true : undefined,
      `report ${sent} stored`,
    );
  };
  try {
    await reportThroughRelay();
    assert.ok(a.text.includes(REPORT_POST), "before the setting, reports go through A");
    assert.ok(!b.text.includes(REPORT_POST));

    // A goes away; the site re-homes its relays to B.
    a.cut();
    await setSettings(site, "all", [`__RelayServer1=${url(b.port)}`]);
    // Its clients stay with it: a newer document for the client alone names the relay.
    await setSettings(site, await computerIdOf(clientDir), [`__RelayServer1=${url(relayPort)}`]);
    await relay.waitFor("parents reordered by the site's settings");
    await reportThroughRelay();
    assert.ok(b.text.includes(REPORT_POST), "re-homed: the report went through B");

    // A answers again: the site's order keeps the relay on B.
    a.restore();
    a.clear();
    b.clear();
    await reportThroughRelay();
    assert.ok(b.text.includes(REPORT_POST));
    assert.ok(!a.text.includes(REPORT_POST), "A, back, is only the fallback");

    // B cut off: the --parent list (A) takes over, once A's own back-off from its outage is
    // over (until then the masthead's server, the last resort, may take a report directly); never
    // B. B back: the relay returns to it.
    b.cut();
    a.clear();
    b.clear();
    await eventually(
      async () => {
        await reportThroughRelay();
        return a.text.includes(REPORT_POST) ? true : undefined;
      },
      "B down: the fallback A takes the reports",
      90_000,
    );
    assert.ok(!b.text.includes(REPORT_POST), "B cut off took nothing");
    b.restore();
    b.clear();
    await eventually(async () => {
      await reportThroughRelay();
      return b.text.includes(REPORT_POST) ? true : undefined;
    }, "the relay back on B once it answers");
  } finally {
    await relay.stop();
    await server.stop();
    await a.close();
    await b.close();
    await Deno.remove(site.root, { recursive: true });
  }
});
