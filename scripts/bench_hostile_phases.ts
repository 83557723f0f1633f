/**
 * The phases of `npm run bench` that play an attacker: forged messages (a fresh wrapped key each
 * and a signature that does not verify: refused 403 with no RSA), and a hostile registered client
 * sending 1,000 reports each under a content key wrapped afresh beside the well-behaved clients
 * (its budget of new keys bounds its RSA work; the others' throughput must hold).
 *
 * @module
 */

import { drive, LoadWorker } from "./bench_load_worker.ts";
import { metrics, storedCount } from "./bench_server.ts";
import { type BenchSession, say } from "./bench_session.ts";
import { type Phase, sentRow } from "./bench_table.ts";

/** Forged messages: a fresh wrapped key each, a signature that does not verify. */
export async function measureForged(session: BenchSession): Promise<{ rsaOps: number }> {
  const { workers, serverPort, masthead, options } = session;
  const forgedCount = Math.min(200, options.clients);
  await Promise.all(workers.map((worker, i) =>
    worker.ask({
      cmd: "forge",
      pool: "forged",
      count: Math.floor(forgedCount / options.workers) +
        (i < forgedCount % options.workers ? 1 : 0),
      port: serverPort,
      masthead,
    })
  ));
  const before = await metrics(serverPort);
  const forged = await drive(workers, "forged", serverPort, 60_000, 403, [], options.connections);
  const after = await metrics(serverPort);
  const rsaOps = after.rsaPrivateOps - before.rsaPrivateOps;
  session.phases.push(sentRow("forged signatures", forged, {
    rsaOps,
    note: "refused 403 (a new wrapped key each): must cost no RSA",
  }));
  await session.dropAll("forged");
  return { rsaOps };
}

/** What the hostile client did, and the others' row beside it. */
export interface HostileOutcome {
  rsaOps: number;
  /** The hostile client's answers by HTTP status. */
  statuses: Record<string, number>;
  beside: Phase;
}

/**
 * A hostile registered client: 1,000 reports, each under a content key wrapped afresh, sent
 * while the other clients report as usual. Its budget of new keys (the server's default, 10 an
 * hour) bounds the RSA work it causes; past it the answer is 429.
 */
export async function measureHostileClient(
  session: BenchSession,
  rateGuess: number,
): Promise<HostileOutcome> {
  const { serverPort, masthead, options } = session;
  say("a hostile client sends 1000 reports with fresh wrapped keys beside the others");
  // Its own load generator: the others' workers keep playing the well-behaved clients.
  const hostileWorker = new LoadWorker();
  session.extraWorkers.push(hostileWorker);
  const hostileRegistered = await hostileWorker.ask({
    cmd: "register",
    port: serverPort,
    count: 1,
    concurrency: 1,
    tag: "hostile",
  });
  if (hostileRegistered.failures > 0) throw new Error("the hostile client did not register");
  const others = session.workers;
  await hostileWorker.ask({
    cmd: "prepare",
    pool: "hostile",
    mode: "fresh-keys",
    perClient: 1000,
    port: serverPort,
    masthead,
  });
  await session.seal("beside hostile", "encrypt", session.perClientFor(rateGuess), others);
  const before = await metrics(serverPort);
  const durationMs = options.seconds * 1000;
  const [hostileSent, besideSent] = await Promise.all([
    drive([hostileWorker], "hostile", serverPort, durationMs, 200, [429, 503], 2),
    drive(others, "beside hostile", serverPort, durationMs, 200, [], options.connections),
  ]);
  const after = await metrics(serverPort);
  const rsaOps = after.rsaPrivateOps - before.rsaPrivateOps;
  if (storedCount(after) - storedCount(before) !== besideSent.acked + hostileSent.acked) {
    throw new Error("beside the hostile client: acknowledged and stored counts differ");
  }
  session.phases.push(sentRow("hostile: fresh key per report", hostileSent, {
    rsaOps,
    note: `answers ${JSON.stringify(hostileSent.statuses)}; RSA bounded by its budget`,
  }));
  const beside = sentRow("2048: others beside hostile", besideSent, {
    rsaOps: null,
    rss: after.rssBytes,
    note: "content keys reused; compare with 2048: steady state",
  });
  session.phases.push(beside);
  await session.dropAll("beside hostile");
  await hostileWorker.close();
  return { rsaOps, statuses: hostileSent.statuses, beside };
}
