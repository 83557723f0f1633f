/**
 * `mle-client -restart [--data-dir DIR]` (as the original's `-restart`): restarts the running
 * agent of a data dir, through its service or by signal.
 *
 * @module
 */

import { CliError, UsageError } from "../cli/output.ts";
import { EXIT } from "../cli/exit_codes.ts";
import { parseFlags } from "../cli/flags.ts";
import { currentOs } from "../keystore/default_paths.ts";
import { planAgentRestart, runAgentRestart } from "./agent_restart.ts";
import { CLIENT_FLAGS, dataDirOf } from "./client_flags.ts";
import { defaultServiceSettings } from "./restart_command.ts";

/** Restarts the agent of `--data-dir`; returns the exit code. */
export async function restartRunningAgent(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { "data-dir": CLIENT_FLAGS["data-dir"] });
  const dataDir = dataDirOf(values);
  const os = currentOs();
  const restart = await planAgentRestart({
    dataDir,
    os,
    service: defaultServiceSettings(os),
    root: null,
  });
  if (restart.kind === "documented") {
    throw new UsageError(
      `no running agent for data dir "${dataDir}"`,
      os === "windows"
        ? "install it as a service (mle-client install-service), then start it"
        : "start it with: mle-client run, or install it with: mle-client install-service",
    );
  }
  const outcome = await runAgentRestart(restart);
  if (outcome !== "ok") throw new CliError(`Cannot restart the agent: ${outcome}`);
  console.log(
    restart.kind === "signal"
      ? `restarted the agent (pid ${restart.pid})`
      : `restarted the agent's ${restart.manager} service "${restart.name}"`,
  );
  return EXIT.ok;
}
