/**
 * The load generators of `npm run bench` seen from the driver: one `bench_load.ts` process each,
 * asked one JSON command per line ({@linkcode LoadWorker}); {@linkcode drive} sends from a pool
 * of every worker at once and adds up their answers, {@linkcode prepareAll} seals a pool in each.
 *
 * @module
 */

import type { Command } from "./bench_load.ts";

/** A load-generator process, asked one JSON command per line. */
export class LoadWorker {
  readonly #child: Deno.ChildProcess;
  readonly pid: number;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  constructor() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        "--allow-net=127.0.0.1",
        "--allow-read",
        new URL("./bench_load.ts", import.meta.url).pathname,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>(
        {
          pending: "",
          transform(chunk, controller) {
            const self = this as unknown as { pending: string };
            self.pending = (self.pending ?? "") + chunk;
            let newline;
            while ((newline = self.pending.indexOf("\n")) >= 0) {
              controller.enqueue(self.pending.slice(0, newline));
              self.pending = self.pending.slice(newline + 1);
            }
          },
        } as Transformer<string, string> & { pending: string },
      ),
    )[Symbol.asyncIterator]();
  }

  // deno-lint-ignore no-explicit-any
  async ask(command: Command): Promise<any> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("a load generator exited");
    const answer = JSON.parse(value);
    if (!answer.ok) throw new Error(`load generator failed: ${answer.error}`);
    return answer;
  }

  async close(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify({ cmd: "exit" }) + "\n"));
      await this.#writer.close();
    } catch {
      // already gone
    }
    await this.#child.status;
  }
}

/** What one run (or slice) of sends gave. */
export interface Sent {
  acked: number;
  seconds: number;
  latencies: number[];
  exhausted: boolean;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
}

/**
 * Sends from the workers' pool `pool` to `port` for at most `durationMs`; returns the
 * acknowledged count (answers `expectStatus`), the elapsed time and the latencies. Any answer
 * other than `expectStatus` or one of `alsoAllowed` fails the run. The workers share
 * `connections` among them.
 */
export async function drive(
  workers: LoadWorker[],
  pool: string,
  port: number | number[],
  durationMs: number,
  expectStatus: number,
  alsoAllowed: number[],
  connections: number,
): Promise<Sent> {
  const perWorker = Math.max(1, Math.floor(connections / workers.length));
  // Several servers: each worker (and so each of its clients) always sends to the same one.
  const ports = [port].flat();
  const answers = await Promise.all(
    workers.map((worker, i) =>
      worker.ask({
        cmd: "run",
        pool,
        port: ports[i % ports.length],
        connections: perWorker,
        durationMs,
      })
    ),
  );
  let acked = 0;
  let seconds = 0;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  for (const answer of answers) {
    for (const [status, count] of Object.entries(answer.statuses as Record<string, number>)) {
      statuses[status] = (statuses[status] ?? 0) + count;
    }
    acked += (answer.statuses as Record<string, number>)[expectStatus] ?? 0;
    seconds = Math.max(seconds, answer.elapsedMs / 1000);
    for (const ms of answer.latencies as number[]) latencies.push(ms);
  }
  const allowed = [expectStatus, ...alsoAllowed];
  const unexpected = Object.entries(statuses).filter(([status]) =>
    !allowed.includes(Number(status))
  );
  if (unexpected.length > 0) {
    throw new Error(`unexpected answers: ${JSON.stringify(statuses)} (expected ${allowed})`);
  }
  return {
    acked,
    seconds,
    latencies,
    exhausted: answers.every((answer) => answer.exhausted),
    statuses,
  };
}

/** Seals a pool in every worker (`prepare`) and adds up what they sealed. */
export async function prepareAll(
  workers: LoadWorker[],
  command: Extract<Command, { cmd: "prepare" }>,
): Promise<{ prepared: number; newContentKeys: number; ms: number; meanRequestBytes: number }> {
  const answers = await Promise.all(workers.map((worker) => worker.ask(command)));
  return {
    prepared: answers.reduce((sum, a) => sum + a.prepared, 0),
    newContentKeys: answers.reduce((sum, a) => sum + a.newContentKeys, 0),
    ms: Math.max(...answers.map((a) => a.ms)),
    meanRequestBytes: answers[0].meanRequestBytes,
  };
}
