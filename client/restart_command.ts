/**
 * How each platform restarts the agent, as seed 002 lists it, plus systemd where it runs. Pure:
 * it only builds the command line; `rotate_keys.ts` runs it.
 *
 * @module
 */

import type { TargetOs } from "../keystore/default_paths.ts";

/** Settings that name the installed service. */
export interface ServiceSettings {
  /** Windows service name and systemd unit (without `.service`); the product installs as mle-client. */
  serviceName: string;
  /** The agent executable, for macOS's `<agent> -restart`. */
  agentPath: string;
  /** An init script to use instead of the platform's documented one. */
  initScript?: string;
  /** Whether systemd runs this machine (Linux only). */
  systemd: boolean;
}

/** Default service settings. */
export const DEFAULT_SERVICE: ServiceSettings = {
  serviceName: "mle-client",
  agentPath: "/usr/local/bin/mle-client",
  systemd: false,
};

/** The documented init scripts (seed 002). */
const INIT_SCRIPTS: Partial<Record<TargetOs, string>> = {
  aix: "/etc/rc.d/rc2.d/SBESClientd",
  hpux: "/sbin/init.d/besclient",
  solaris: "/etc/init.d/besclient",
  linux: "/etc/init.d/besclient",
};

/**
 * The command line that restarts the agent on `os`.
 *
 * @example
 * ```ts
 * import { DEFAULT_SERVICE, restartCommand } from "./restart_command.ts";
 * console.log(restartCommand("linux", DEFAULT_SERVICE)); // ["/etc/init.d/besclient", "restart"]
 * ```
 */
export function restartCommand(os: TargetOs, service: ServiceSettings): string[] {
  switch (os) {
    case "windows":
      return [
        "powershell.exe",
        "-NoProfile",
        "-Command",
        `Restart-Service -Name '${service.serviceName.replaceAll("'", "''")}'`,
      ];
    case "macos":
      return [service.agentPath, "-restart"];
    case "linux":
      if (service.systemd && !service.initScript) {
        return ["systemctl", "restart", `${service.serviceName}.service`];
      }
      return [service.initScript ?? INIT_SCRIPTS.linux!, "restart"];
    default:
      return [service.initScript ?? INIT_SCRIPTS[os]!, "restart"];
  }
}

/** Quotes a command line for display. */
export function formatCommand(argv: string[]): string {
  return argv.map((part) =>
    /^[\w@%+=:,./-]+$/.test(part) ? part : `"${part.replaceAll('"', '\\"')}"`
  )
    .join(" ");
}
