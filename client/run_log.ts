/**
 * The client's run log: every `report`, `run`, `upload`, `register` and `rotate-keys` writes what
 * it did to `<data dir>/logs/mle-client.log` by default (1 MiB a file, three older files kept),
 * so that a run from cron or a service manager that failed can be read afterwards;
 * `mle-client status` names the file. Lines name what happened (parent, outcome, counts, the
 * run's request id), never a report's content, a key or a password.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import {
  type LogOptionValues,
  type LogSettings,
  openLogger,
  readLogSettings,
} from "../cli/log_options.ts";
import type { RotationLimits } from "../cli/rotating_log_file.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";

/** The client's log bounds: 1 MiB a file, three older ones: about 4 MiB at most. */
export const CLIENT_LOG_ROTATION: RotationLimits = { maxBytes: 1024 * 1024, keep: 3 };

/** Where a data dir's run log is by default. */
export function defaultClientLogFile(dataDir: string): string {
  return joinPath(joinPath(dataDir, "logs"), "mle-client.log");
}

/** The log settings of a client command: the flags, then `MLE_CLIENT_LOG_*`, then the defaults. */
export function clientLogSettings(values: LogOptionValues, dataDir: string): LogSettings {
  return readLogSettings(values, (name) => Deno.env.get(name), "MLE_CLIENT", {
    file: defaultClientLogFile(dataDir),
    rotation: CLIENT_LOG_ROTATION,
  });
}

/**
 * Opens the run log (making the data dir and `logs/`, 0700, for the default file).
 *
 * @throws {CliError} When the file cannot be opened; the message names it.
 */
export async function openClientRunLog(
  settings: LogSettings,
  dataDir: string,
): Promise<Logger & { close(): void }> {
  // The data dir first, 0700 (what the agent makes it too); openLogger then makes logs/.
  if (settings.file === defaultClientLogFile(dataDir)) await ensurePrivateDir(dataDir);
  return openLogger("mle-client", settings);
}
