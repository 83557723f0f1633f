/**
 * A role's Windows service, made with `sc.exe`: the commands that create, start, restart, stop
 * and delete it. Pure: it only builds the command lines.
 *
 * @module
 */

import { checkServiceDefinition, type ServiceDefinition } from "./service_definition.ts";

/** The `sc.exe` commands of one service. */
export interface WindowsServiceCommands {
  /** Create it (automatic start), describe it, and restart it when it fails. */
  create: string[][];
  start: string[];
  /** Through the service manager: Windows has no signal to send a running agent. */
  restart: string[];
  /** Before deleting: stop it (fails harmlessly when it is not running). */
  stop: string[];
  delete: string[];
}

/**
 * The commands for `definition`.
 *
 * @example
 * ```ts
 * import { windowsServiceCommands } from "./windows_service.ts";
 * const commands = windowsServiceCommands({
 *   name: "BES Client",
 *   description: "BES Client",
 *   argv: ["C:\\Program Files\\MLE\\mle-client.exe", "run"],
 *   dataDir: "C:\\Program Files (x86)\\BigFix Enterprise\\BES Client",
 *   writablePaths: [],
 * });
 * console.log(commands.create[0][3]); // "binPath="
 * ```
 */
export function windowsServiceCommands(definition: ServiceDefinition): WindowsServiceCommands {
  checkServiceDefinition(definition);
  const { name } = definition;
  return {
    create: [
      [
        "sc.exe",
        "create",
        name,
        "binPath=",
        windowsCommandLine(definition.argv),
        "start=",
        "auto",
        "DisplayName=",
        name,
      ],
      ["sc.exe", "description", name, definition.description],
      [
        "sc.exe",
        "failure",
        name,
        "reset=",
        "86400",
        "actions=",
        "restart/5000/restart/5000/restart/60000",
      ],
    ],
    start: ["sc.exe", "start", name],
    restart: windowsRestartCommand(name),
    stop: ["sc.exe", "stop", name],
    delete: ["sc.exe", "delete", name],
  };
}

/**
 * Restarts a Windows service through the service manager (stop, wait, start): Windows has no
 * signal a running agent could be sent instead.
 */
export function windowsRestartCommand(name: string): string[] {
  return [
    "powershell.exe",
    "-NoProfile",
    "-Command",
    `Restart-Service -Name '${name.replaceAll("'", "''")}'`,
  ];
}

/**
 * A command line as Windows programs split it (the Microsoft C runtime's rules): an argument with
 * a space, tab or quote is quoted, a quote inside becomes `\"`, and backslashes are doubled only
 * before a quote.
 */
export function windowsCommandLine(argv: readonly string[]): string {
  return argv.map((arg) => {
    if (arg !== "" && !/[\s"]/.test(arg)) return arg;
    let quoted = '"';
    let backslashes = 0;
    for (const char of arg) {
      if (char === "\\") {
        backslashes++;
        continue;
      }
      quoted += "\\".repeat(char === '"' ? backslashes * 2 + 1 : backslashes) + char;
      backslashes = 0;
    }
    return quoted + "\\".repeat(backslashes * 2) + '"';
  }).join(" ");
}
