/**
 * What install-service created, kept as `service.json` in the role's data dir, so that
 * `rotate-keys`, `mle-client -restart` and uninstall-service use exactly that service (its
 * manager, name, files and restart command) rather than guessing the platform's.
 *
 * The record says which command runs as the administrator, so it is read like a key: a regular
 * file only its owner can read or write (mode 0600), bounded in size and checked field by field.
 *
 * @module
 */

import { CliError } from "../cli/output.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import type { TargetOs } from "../keystore/default_paths.ts";
import { joinPath, readSecretFile, replaceFileAtomically } from "../keystore/secure_file.ts";
import type { ServiceManager } from "./service_definition.ts";
import type { ServicePlan, ServiceRole } from "./service_plan.ts";

/** The record's file name in the data dir. */
export const SERVICE_RECORD_FILE = "service.json";

/** A record is a few hundred bytes; anything near this is not one. */
const MAX_RECORD_BYTES = 64 * 1024;

/** What install-service created. */
export interface ServiceRecord {
  version: 1;
  role: ServiceRole;
  os: TargetOs;
  manager: ServiceManager;
  name: string;
  /** Files written (final paths). */
  files: string[];
  /** Links made (final paths). */
  links: string[];
  restart: string[];
  stop: string[][];
  afterRemove: string[][];
  installedAt: string;
}

/** The record of `plan`. */
export function serviceRecordOf(role: ServiceRole, plan: ServicePlan, now: Date): ServiceRecord {
  return {
    version: 1,
    role,
    os: plan.os,
    manager: plan.manager,
    name: plan.name,
    files: plan.files.map((file) => file.path),
    links: plan.links.map((link) => link.path),
    restart: plan.restart,
    stop: plan.stop,
    afterRemove: plan.afterRemove,
    installedAt: now.toISOString(),
  };
}

/** Writes the record (0600, atomically) into `dataDir`. */
export async function writeServiceRecord(dataDir: string, record: ServiceRecord): Promise<void> {
  await replaceFileAtomically(
    joinPath(dataDir, SERVICE_RECORD_FILE),
    JSON.stringify(record, null, 2) + "\n",
  );
}

/** Removes the record (nothing when there is none). */
export async function removeServiceRecord(dataDir: string): Promise<void> {
  await Deno.remove(joinPath(dataDir, SERVICE_RECORD_FILE)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/**
 * The record in `dataDir`, or null when install-service made none there.
 *
 * @throws {CliError} When the file is not a record, is too large, or others can read or write it.
 */
export async function readServiceRecord(dataDir: string): Promise<ServiceRecord | null> {
  const path = joinPath(dataDir, SERVICE_RECORD_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readSecretFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new CliError(`Cannot use the service record "${path}": ${(error as Error).message}`, {
      hint: "nothing was run; fix its mode (chmod 600) or run install-service again",
    });
  }
  if (bytes.length > MAX_RECORD_BYTES) throw invalid(path, "it is too large");
  let value: unknown;
  try {
    value = JSON.parse(decodeUtf8(bytes));
  } catch {
    throw invalid(path, "it is not JSON");
  }
  const problem = recordProblem(value);
  if (problem) throw invalid(path, problem);
  return value as ServiceRecord;
}

function invalid(path: string, why: string): CliError {
  return new CliError(`Cannot use the service record "${path}": ${why}`, {
    hint: "nothing was run; run uninstall-service --force, then install-service again",
  });
}

const ROLES = ["client", "relay", "server"];
const OSES = ["windows", "macos", "linux", "aix", "hpux", "solaris"];
const MANAGERS = ["systemd", "initd", "launchd", "windows"];

/** What is wrong with a parsed record, or null. */
export function recordProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return "it is not an object";
  const record = value as Record<string, unknown>;
  if (record.version !== 1) return `unknown version ${JSON.stringify(record.version)}`;
  if (!ROLES.includes(record.role as string)) return "unknown role";
  if (!OSES.includes(record.os as string)) return "unknown os";
  if (!MANAGERS.includes(record.manager as string)) return "unknown manager";
  if (typeof record.name !== "string" || record.name === "") return "no name";
  if (!isStrings(record.files) || !isStrings(record.links)) return "files and links must be lists";
  if (!isStrings(record.restart) || record.restart.length === 0) return "no restart command";
  for (const field of ["stop", "afterRemove"] as const) {
    const commands = record[field];
    if (!Array.isArray(commands) || !commands.every((c) => isStrings(c) && c.length > 0)) {
      return `${field} must be a list of commands`;
    }
  }
  if (typeof record.installedAt !== "string") return "no installation date";
  return null;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
