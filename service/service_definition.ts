/**
 * What a role's service is, whatever the operating system: its name, the command line it runs
 * and the folders it writes. The generators (`systemd_unit.ts`, `init_script.ts`,
 * `launchd_plist.ts`, `windows_service.ts`) turn one into each service manager's form; pure.
 *
 * @module
 */

/** The service managers install-service knows. */
export type ServiceManager = "systemd" | "initd" | "launchd" | "windows";

/** One role's service, as every generator reads it. */
export interface ServiceDefinition {
  /** The service's name: systemd unit and init script (`besclient`), Windows service (`BES Client`). */
  name: string;
  /** One line for the operator: what the service is. */
  description: string;
  /** The whole command line: the executable (absolute path) and its arguments. */
  argv: readonly string[];
  /** The role's data dir (queue, state, pid file, the service's own log). */
  dataDir: string;
  /** Folders the service must be able to write, beside its data dir (the client's KeyStorage). */
  writablePaths: readonly string[];
}

/**
 * Refuses what no service file can hold safely: control characters (a newline would end a unit
 * line or a script command) and a relative executable path (the service manager has no working
 * directory to resolve it against).
 *
 * @throws {RangeError} Naming the offending argument.
 */
export function checkServiceDefinition(definition: ServiceDefinition): void {
  const { argv } = definition;
  if (argv.length === 0) throw new RangeError("Cannot make a service without a command line");
  for (const part of [...argv, definition.dataDir, ...definition.writablePaths]) {
    // deno-lint-ignore no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(part)) {
      throw new RangeError(
        `Cannot put "${
          JSON.stringify(part).slice(1, -1)
        }" in a service: it holds a control character`,
      );
    }
  }
  if (!isAbsolutePath(argv[0])) {
    throw new RangeError(`Cannot run "${argv[0]}" as a service: give the executable's full path`);
  }
  for (const path of [definition.dataDir, ...definition.writablePaths]) {
    if (!isAbsolutePath(path)) {
      throw new RangeError(`Cannot use "${path}" in a service: give a full path`);
    }
  }
}

/** Whether `path` is absolute on POSIX (`/…`) or Windows (`C:\…`, `\\server\…`). */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/** The last part of a path, for either separator. */
export function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}
