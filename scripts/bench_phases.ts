/**
 * The timed phases of `npm run bench` for well-behaved clients: each client's first encrypted
 * report (one RSA unwrap each), clear text and encrypted steady state in turns, the same after a
 * server restart (content keys back without RSA), a new 2048-bit key deployed without a restart,
 * and reports through a relay. Each adds its rows to the session.
 *
 * @module
 */

import { DEFAULT_FORWARD_CONCURRENCY } from "../relay/forwarder.ts";
import { RoleProcess } from "../tests/run_role.ts";
import { cpuPerReport, cpuSnapshot } from "./bench_cpu.ts";
import { drive } from "./bench_load_worker.ts";
import { certificateKid, generateKey, metrics, storedCount, waitUntil } from "./bench_server.ts";
import { type BenchSession, say } from "./bench_session.ts";
import { type Phase, sentRow } from "./bench_table.ts";

/** Upper bound of reports one timed phase needs before the first measurement (reports/s). */
const FIRST_RATE_GUESS = 7_000;

/**
 * Each client's first encrypted report to the key `kid` (`size` bits) the server serves: a new
 * content key each, so one RSA unwrap each.
 */
export async function measureFirstReports(
  session: BenchSession,
  size: 4096 | 2048,
  kid: string,
): Promise<Phase> {
  if ((await certificateKid(session.serverPort)) !== kid) {
    throw new Error(`the server does not serve the ${size}-bit key's certificate`);
  }
  const pool = `${size} first`;
  await session.seal(pool, "encrypt", 1);
  const [first] = await session.measure([
    { name: `${size}: first report per client`, pool, note: "a new content key each" },
  ], 600_000);
  await session.dropAll(pool);
  return first;
}

/** Clear text and 4096-bit steady state, in turns of one second. */
export async function measureClearAndSteady(
  session: BenchSession,
): Promise<{ clear: Phase; steady4096: Phase }> {
  await session.seal("clear", "clear", session.perClientFor(FIRST_RATE_GUESS));
  await session.seal("4096", "encrypt", session.perClientFor(FIRST_RATE_GUESS));
  const [clear, steady4096] = await session.measure(
    [
      { name: "clear text (signed)", pool: "clear", note: "in turns with the next row" },
      { name: "4096: steady state", pool: "4096", note: "content keys reused" },
    ],
    session.options.seconds * 1000,
    1000,
  );
  await Promise.all([session.dropAll("clear"), session.dropAll("4096")]);
  return { clear, steady4096 };
}

/** Restart on the same data dir: content keys must come back without RSA. */
export async function measureAfterRestart(
  session: BenchSession,
  rateGuess: number,
): Promise<Phase> {
  const { seconds, clients } = session.options;
  await session.seal("4096 after restart", "encrypt", session.perClientFor(rateGuess, seconds / 2));
  session.notePeak(await metrics(session.serverPort));
  const started = performance.now();
  await session.server!.stop();
  await session.startFirstServer();
  const restartSeconds = (performance.now() - started) / 1000;
  say(`server restarted in ${restartSeconds.toFixed(1)} s`);
  const [afterRestart] = await session.measure([{
    name: "4096: after server restart",
    pool: "4096 after restart",
    note: `restart took ${restartSeconds.toFixed(1)} s; includes every client's first report`,
  }], (seconds / 2) * 1000);
  await session.dropAll("4096 after restart");
  if (afterRestart.reports < clients) {
    say("warning: fewer reports after the restart than clients");
  }
  return afterRestart;
}

/**
 * 2048-bit: deploys a new key, which the server picks up without a restart; then each client's
 * first report to it and the steady state.
 */
export async function measure2048(
  session: BenchSession,
  rateGuess: number,
): Promise<{ first2048: Phase; steady2048: Phase }> {
  say("deploying a 2048-bit key");
  const kid2048 = await generateKey(session.serverDir, session.siteKey, "min");
  await waitUntil("the server to serve the 2048-bit certificate", async () => {
    return (await certificateKid(session.serverPort)) === kid2048;
  }, 15_000);
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // the key ring's refresh
  const first2048 = await measureFirstReports(session, 2048, kid2048);
  await session.seal("2048", "encrypt", session.perClientFor(rateGuess));
  const [steady2048] = await session.measure([
    { name: "2048: steady state", pool: "2048", note: "content keys reused" },
  ], session.options.seconds * 1000);
  await session.dropAll("2048");
  return { first2048, steady2048 };
}

/**
 * Through a relay: accepted (spooled durably) by the relay, then forwarded; two rows, accepted
 * and stored, the drain timed too.
 */
export async function measureViaRelay(
  session: BenchSession,
  rateGuess: number,
): Promise<{ accepted: Phase; delivered: Phase }> {
  const { serverPort, relayPort, workers, options } = session;
  const relay = session.relay = new RoleProcess("relay", [
    "run",
    "--data-dir",
    `${session.root}/relay`,
    "--listen",
    `127.0.0.1:${relayPort}`,
    "--parent",
    `http://127.0.0.1:${serverPort}`,
    ...(options.relayConcurrency === undefined
      ? []
      : ["--concurrency", String(options.relayConcurrency)]),
  ]);
  await relay.waitFor("listening on");
  // Half a phase, the drain timed too: the relay group-commits what it accepts (one fsync for
  // the reports that arrive together) and forwards them in batches while it accepts more.
  const relaySeconds = Math.max(1, options.seconds / 2);
  await session.seal("via relay", "encrypt", session.perClientFor(rateGuess, relaySeconds));
  const before = await metrics(serverPort);
  const cpu0 = cpuSnapshot(session.server!, workers, relay.child);
  const started = performance.now();
  const viaRelay = await drive(
    workers,
    "via relay",
    relayPort,
    relaySeconds * 1000,
    202,
    [],
    options.connections,
  );
  // Polls the server's in-memory counter: a count(*) of the table every 100 ms would load it.
  await waitUntil("the relay to deliver every accepted report", async () => {
    const m = await metrics(serverPort);
    return storedCount(m) - storedCount(before) >= viaRelay.acked;
  }, 120_000);
  const drainedSeconds = (performance.now() - started) / 1000;
  const cpu1 = cpuSnapshot(session.server!, workers, relay.child);
  const after = await metrics(serverPort);
  session.notePeak(after);
  const deliveredCount = after.reportsStored - before.reportsStored;
  const cpu = cpuPerReport(cpu0, cpu1, deliveredCount);
  const accepted = sentRow("via relay: accepted by relay", viaRelay, {
    rsaOps: null,
    note: "2048-bit; spooled durably, then 202",
  });
  const delivered: Phase = {
    name: "via relay: stored by server",
    reports: deliveredCount,
    seconds: drainedSeconds,
    perSecond: deliveredCount / drainedSeconds,
    p50: null,
    p99: null,
    rsaOps: after.rsaPrivateOps - before.rsaPrivateOps,
    cpu,
    rss: after.rssBytes,
    note: `forwarder concurrency ${
      options.relayConcurrency ?? `default (${DEFAULT_FORWARD_CONCURRENCY})`
    }, batches; first send to last stored; relay CPU µs ${Math.round(cpu.relay ?? NaN)}`,
  };
  session.phases.push(accepted, delivered);
  await session.dropAll("via relay");
  return { accepted, delivered };
}
