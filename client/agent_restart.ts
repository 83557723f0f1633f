/**
 * Restarting the agent of a data dir: the one step `rotate-keys`, `mle-client -restart` and the
 * rotations the site directs all go through.
 *
 * In order of preference:
 * 1. the service install-service made and recorded (`service.json` in the data dir): its own
 *    restart command (systemctl, the init script, launchctl, the Windows service manager);
 * 2. outside Windows, a running `mle-client run` of the data dir, told with SIGHUP;
 * 3. the platform's documented command (seed 002, `restart_command.ts`), for an agent installed
 *    by other means.
 * On Windows a running agent is restarted through the service manager, never a signal (Deno
 * cannot send one there).
 *
 * @module
 */

import { formatCommand } from "../cli/command_line.ts";
import { currentOs, type TargetOs } from "../keystore/default_paths.ts";
import type { ServiceManager } from "../service/service_definition.ts";
import { underRoot } from "../service/service_plan.ts";
import { readServiceRecord } from "../service/service_record.ts";
import { runServiceCommand } from "../service/service_command.ts";
import { runningAgentPid, signalRestart } from "./agent_process.ts";
import { restartCommand, type ServiceSettings } from "./restart_command.ts";

/** How the agent will be restarted. */
export type AgentRestart =
  | { kind: "service"; manager: ServiceManager; name: string; argv: string[] }
  | { kind: "signal"; pid: number }
  | { kind: "documented"; argv: string[] };

/** Where to look. */
export interface AgentRestartOptions {
  dataDir: string;
  /** The OS to plan for; only this machine's has a record or a running agent to look at. */
  os: TargetOs;
  /** The documented command's settings (step 3). */
  service: ServiceSettings;
  /** install-service --root: the service's files and record are staged under this folder. */
  root: string | null;
}

/** Finds how the agent of `options.dataDir` is restarted; changes nothing. */
export async function planAgentRestart(options: AgentRestartOptions): Promise<AgentRestart> {
  const here = options.os === currentOs();
  const record = here ? await readServiceRecord(underRoot(options.root, options.dataDir)) : null;
  if (record !== null) {
    const [program, ...args] = record.restart;
    // A staged init script runs from where it was staged; systemctl and the like stay as they are.
    const staged = record.files.includes(program) ? underRoot(options.root, program) : program;
    return { kind: "service", manager: record.manager, name: record.name, argv: [staged, ...args] };
  }
  const pid = here && options.os !== "windows" ? await runningAgentPid(options.dataDir) : null;
  if (pid !== null) return { kind: "signal", pid };
  return { kind: "documented", argv: restartCommand(options.os, options.service) };
}

/** One line for the operator: how the agent is (or would be) restarted. */
export function describeAgentRestart(restart: AgentRestart): string {
  switch (restart.kind) {
    case "service":
      return `through its ${restart.manager} service "${restart.name}" (install-service): ${
        formatCommand(restart.argv)
      }`;
    case "signal":
      return `the running agent (pid ${restart.pid}) with SIGHUP`;
    case "documented":
      return formatCommand(restart.argv);
  }
}

/**
 * Restarts the agent as planned: "ok", "absent" (a documented command whose script is not
 * here: nothing installed the agent as a service), or why the restart failed.
 */
export async function runAgentRestart(restart: AgentRestart): Promise<"ok" | "absent" | string> {
  if (restart.kind === "signal") {
    try {
      signalRestart(restart.pid);
    } catch (error) {
      // The agent exited between being found and being told (killed, stopped): the caller
      // registers the new key itself, as when no agent runs.
      if (!(error instanceof Deno.errors.NotFound)) throw error; // ESRCH
      return `the running agent (pid ${restart.pid}) exited before it could be told`;
    }
    return "ok";
  }
  if (restart.kind === "documented" && restart.argv[0].startsWith("/")) {
    try {
      await Deno.stat(restart.argv[0]);
    } catch {
      return "absent";
    }
  }
  const outcome = await runServiceCommand(restart.argv);
  if (outcome === "not permitted") return `${formatCommand(restart.argv)}: not permitted`;
  if (outcome !== "ok" && restart.kind === "documented") return "absent";
  return outcome;
}

/** Plans and runs the restart: the one function a rotation calls. */
export async function restartAgent(
  options: AgentRestartOptions,
): Promise<{ restart: AgentRestart; outcome: "ok" | "absent" | string }> {
  const restart = await planAgentRestart(options);
  return { restart, outcome: await runAgentRestart(restart) };
}
