/**
 * How each platform restarts the agent, as seed 002 lists it, plus systemd where it runs: what
 * `rotate-keys` falls back to when install-service made no service here (`agent_restart.ts`
 * prefers the recorded one). Pure: it only builds the command line.
 *
 * @module
 */

import type { TargetOs } from "../keystore/default_paths.ts";
import { defaultServiceName, initScriptPath } from "../service/service_plan.ts";
import { windowsRestartCommand } from "../service/windows_service.ts";

/** Settings that name the installed service. */
export interface ServiceSettings {
  /** Windows service name and systemd unit (without `.service`); see {@linkcode defaultServiceSettings}. */
  serviceName: string;
  /** The agent executable, for macOS's `<agent> -restart`. */
  agentPath: string;
  /** An init script to use instead of the platform's documented one. */
  initScript?: string;
  /** Whether systemd runs this machine (Linux only). */
  systemd: boolean;
}

/**
 * The service settings of `os` by default: the seeds' names, as install-service makes them
 * ("BES Client" on Windows, besclient elsewhere).
 */
export function defaultServiceSettings(os: TargetOs): ServiceSettings {
  return {
    serviceName: defaultServiceName("client", os),
    agentPath: "/usr/local/bin/mle-client",
    systemd: false,
  };
}

/**
 * The command line that restarts the agent on `os`.
 *
 * @example
 * ```ts
 * import { defaultServiceSettings, restartCommand } from "./restart_command.ts";
 * console.log(restartCommand("linux", defaultServiceSettings("linux"))); // ["/etc/init.d/besclient", "restart"]
 * ```
 */
export function restartCommand(os: TargetOs, service: ServiceSettings): string[] {
  switch (os) {
    case "windows":
      return windowsRestartCommand(service.serviceName);
    case "macos":
      return [service.agentPath, "-restart"];
    default:
      if (os === "linux" && service.systemd && !service.initScript) {
        return ["systemctl", "restart", `${service.serviceName}.service`];
      }
      return [service.initScript ?? initScriptPath("client", os, "besclient"), "restart"];
  }
}
