/**
 * The flags of `mle-client` (`cli/flags.ts` declarations), their values' type, and the data dir
 * they name.
 *
 * @module
 */

import type { FlagValues } from "../cli/flags.ts";
import { LOG_OPTIONS } from "../cli/log_options.ts";
import { currentOs, defaultClientDataDir, type TargetOs } from "../keystore/default_paths.ts";
import { expandHome } from "../cli/home_path.ts";
import { UPLOAD_CLI_OPTIONS } from "./upload_command.ts";

/** Seconds between two reports of `mle-client run` by default. */
export const DEFAULT_INTERVAL_SECONDS = 900;

/** The flags of every `mle-client` command (and of the service it installs). */
export const CLIENT_FLAGS = {
  "data-dir": { type: "string", path: true },
  "storage-path": { type: "string", path: true },
  masthead: { type: "string", path: true },
  parent: { type: "string", multiple: true },
  encryption: { type: "string" },
  settings: { type: "string", path: true },
  property: { type: "string", multiple: true },
  "host-identifier": { type: "string", default: "machine" },
  quiet: { type: "boolean", default: false },
  interval: { type: "string" },
  json: { type: "boolean", default: false },
  compromised: { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
  "no-restart": { type: "boolean", default: false },
  os: { type: "string" },
  "service-name": { type: "string" },
  "agent-path": { type: "string", path: true },
  "init-script": { type: "string", path: true },
  root: { type: "string" },
  password: { type: "string" },
  "password-file": { type: "string", path: true },
  help: { type: "boolean", short: "h", default: false },
  ...UPLOAD_CLI_OPTIONS,
  ...LOG_OPTIONS,
} as const;

/** The values of {@linkcode CLIENT_FLAGS} once parsed. */
export type ClientFlagValues = FlagValues<typeof CLIENT_FLAGS>;

/** The data dir: `--data-dir`, else `MLE_CLIENT_DATA_DIR`, else the platform's default. */
export function dataDirOf(values: { "data-dir"?: string }, os: TargetOs = currentOs()): string {
  const fromEnv = Deno.env.get("MLE_CLIENT_DATA_DIR");
  return values["data-dir"] ?? (fromEnv ? expandHome(fromEnv) : defaultClientDataDir(os));
}
