/**
 * CPU time of the processes `npm run bench` measures, from `/proc` (Linux; NaN elsewhere): the
 * server as a whole, its event-loop thread, the load generators, a relay in front of the server;
 * and per stored report.
 *
 * @module
 */

import type { Phase } from "./bench_table.ts";

/**
 * CPU seconds used so far by a process (all its threads, ended ones included: `stat`, in clock
 * ticks), or by one of its threads (`schedstat`, in nanoseconds); NaN without /proc.
 */
export function cpuSeconds(pid: number, thread?: number): number {
  try {
    if (thread !== undefined) {
      const schedstat = Deno.readTextFileSync(`/proc/${pid}/task/${thread}/schedstat`);
      return Number(schedstat.split(" ")[0]) / 1e9;
    }
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ)
  } catch {
    return NaN;
  }
}

/** CPU used so far: the server (all threads), its event-loop thread, the load generators, a relay. */
export interface CpuSnapshot {
  server: number;
  serverMain: number;
  load: number;
  relay?: number;
}

/** CPU used so far by the server (whole and event-loop thread), the load generators and a relay. */
export function cpuSnapshot(
  server: { pid: number },
  workers: readonly { pid: number }[],
  relay?: { pid: number },
): CpuSnapshot {
  return {
    server: cpuSeconds(server.pid),
    serverMain: cpuSeconds(server.pid, server.pid),
    load: workers.reduce((sum, worker) => sum + cpuSeconds(worker.pid), 0),
    ...(relay ? { relay: cpuSeconds(relay.pid) } : {}),
  };
}

/** CPU per report between two snapshots, in microseconds. */
export function cpuPerReport(
  from: CpuSnapshot,
  to: CpuSnapshot,
  reports: number,
): NonNullable<Phase["cpu"]> {
  const per = (a: number, b: number) => ((b - a) / reports) * 1e6;
  return {
    server: per(from.server, to.server),
    serverMain: per(from.serverMain, to.serverMain),
    load: per(from.load, to.load),
    ...(from.relay !== undefined && to.relay !== undefined
      ? { relay: per(from.relay, to.relay) }
      : {}),
  };
}
